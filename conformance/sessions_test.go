package conformance

import (
	"fmt"
	"strings"
	"time"

	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/memstore"
)

// Session locking: a holder and a second request of the same session
// (PHP-SEMANTICS.md §7). PHP uses its files handler in the test's directory;
// Lifeline package session with memstore.

// newSessions returns the Go side's session manager.
func newSessions() (*session.Manager, error) {
	store, err := memstore.New()
	if err != nil {
		return nil, err
	}
	return session.New(store)
}

// sessionScript is the Go side of testdata/php/session.php.
func sessionScript(s *script) {
	m := s.env.sessions
	q := s.r.URL.Query()
	role, variant := q.Get("role"), q.Get("variant")
	switch role {
	case "init":
		ss, err := m.Start(s.w, s.r)
		if err != nil {
			s.ev("error", "session start: "+err.Error())
			return
		}
		if err := ss.Set("n", 0); err != nil {
			s.ev("error", "session set: "+err.Error())
		}
		s.echo("init")
	case "b":
		s.mark("before-start")
		t := time.Now()
		var ss *session.Session
		var err error
		if variant == "read-and-close" {
			ss, err = m.StartReadOnly(s.r)
		} else {
			ss, err = m.Start(s.w, s.r)
		}
		w := time.Since(t)
		if err != nil {
			s.ev("error", "session start: "+err.Error())
			return
		}
		s.ev("lock", map[bool]string{true: "waited", false: "immediate"}[w > 250*time.Millisecond])
		s.ev("i.lockwait", fmt.Sprintf("%dms", w.Milliseconds()))
		if n, ok, err := session.Value[int](ss, "n"); ok && err == nil {
			s.ev("n", n)
		} else {
			s.ev("n", "unset")
		}
		s.echo("b")
	default:
		ss, err := m.Start(s.w, s.r)
		if err != nil {
			s.ev("error", "session start: "+err.Error())
			return
		}
		n, _, _ := session.Value[int](ss, "n")
		if err := ss.Set("n", n+1); err != nil {
			s.ev("error", "session set: "+err.Error())
		}
		if variant == "write-close" {
			if err := ss.WriteClose(s.ctx); err != nil {
				s.ev("error", "session write close: "+err.Error())
			}
		}
		s.mark("locked")
		if variant == "finish" {
			s.echo("answered")
			if err := s.rn.Finish(); err != nil {
				s.ev("error", "finish: "+err.Error())
			}
		}
		s.waitSignal("b")
		s.sleep(500 * time.Millisecond)
		s.mark("end")
		s.echo("a")
	}
}

// planSession plays the session scenario: init, then a (the holder), then
// b while a holds the session. The facts are a's response and both
// servers' events.
func planSession(variant string) func(cl *client) error {
	return func(cl *client) error {
		path := cl.side.pathOf(cl.sc)
		runA, runB := cl.run+"/a", cl.run+"/b"
		c0, err := cl.dial()
		if err != nil {
			return err
		}
		defer c0.tc.Close()
		if err := c0.send(path+"?role=init", cl.run+"/init"); err != nil {
			return err
		}
		r0, err := c0.readAll()
		if err != nil {
			return err
		}
		cookie, _, _ := strings.Cut(r0.header.Get("Set-Cookie"), ";")
		if cookie == "" {
			return fmt.Errorf("session init: no cookie (HTTP %d %q)", r0.code, r0.body)
		}
		ca, err := cl.dial()
		if err != nil {
			return err
		}
		defer ca.tc.Close()
		if err := ca.send(path+"?role=a&variant="+variant, runA, "Cookie: "+cookie); err != nil {
			return err
		}
		// a's response and the reuse of its connection are read meanwhile,
		// so that the reuse is tried as soon as a's response is complete.
		type read struct {
			rs     *response
			err    error
			reuse  string
			reused time.Time
		}
		aDone := make(chan read, 1)
		go func() {
			var a read
			a.rs, a.err = ca.readAll()
			if a.err == nil {
				a.reuse, a.reused = ca.reuse(a.rs, cl.run+"-ping")
			}
			aDone <- a
		}()
		if err := cl.waitFor(runA, "mark", "locked"); err != nil {
			return err
		}
		cb, err := cl.dial()
		if err != nil {
			return err
		}
		defer cb.tc.Close()
		if err := cb.send(path+"?role=b&variant="+variant, runB, "Cookie: "+cookie); err != nil {
			return err
		}
		if err := cl.waitFor(runB, "mark", "before-start"); err != nil {
			return err
		}
		if err := cl.signal(runA, "b"); err != nil {
			return err
		}
		rb, err := cb.readAll()
		if err != nil {
			return err
		}
		a := <-aDone
		if a.err != nil {
			return a.err
		}
		cl.obs.resp, cl.obs.respRun = a.rs, runA
		cl.obs.reuse, cl.obs.reused = a.reuse, a.reused
		cl.obs.extra = map[string]string{"b.http": fmt.Sprint(rb.code) + " " + renderBody(rb.body)}
		return nil
	}
}

const readOnly = "PHP's read_and_close still reads under the lock (the files handler's flock), so it waits for " +
	"the holder and sees its write; Lifeline's StartReadOnly never takes the lock and reads the last saved state, " +
	"without a's change (documented in package session)"

func sessionScenarios() []*scenario {
	return []*scenario{
		{
			name:   "session-lock",
			about:  "Request a starts the session, n++, holds it 0.5 s past b's arrival; b starts the same session.",
			script: "session",
			plan:   planSession("lock"),
			goCode: sessionScript,
			diffs:  []diff{lengthNotChunked()},
		},
		{
			name:   "session-write-close",
			about:  "As session-lock, but a calls session_write_close() (WriteClose) after n++.",
			script: "session",
			plan:   planSession("write-close"),
			goCode: sessionScript,
			diffs:  []diff{lengthNotChunked()},
		},
		{
			name:   "session-read-and-close",
			about:  "As session-lock, but b starts with read_and_close (StartReadOnly).",
			script: "session",
			plan:   planSession("read-and-close"),
			goCode: sessionScript,
			diffs: []diff{
				lengthNotChunked(),
				{fact: "b:lock", php: "waited", lifeline: "immediate", verdict: different, reason: readOnly},
				{fact: "b:n", php: "1", lifeline: "0", verdict: different, reason: readOnly},
			},
		},
		{
			name:   "session-finish",
			about:  "As session-lock, but a answers with fastcgi_finish_request() (Finish) after n++, then holds on.",
			script: "session",
			plan:   planSession("finish"),
			goCode: sessionScript,
			diffs: []diff{
				lengthNotChunked(),
				{fact: "b:lock", php: "waited", lifeline: "immediate", verdict: better,
					reason: "Lifeline writes and unlocks the session at Finish, before the client gets the answer " +
						"(Session.KeepAfterFinish keeps PHP's way); PHP-FPM holds the lock past " +
						"fastcgi_finish_request until the script ends (pitfall 15), so the client's next request waits"},
			},
		},
	}
}
