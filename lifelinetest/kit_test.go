package lifelinetest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/lifelinetest"
	"github.com/lifeline-go/lifeline/server"
)

// run returns r's run, or answers 418 and reports false.
func run(w http.ResponseWriter, r *http.Request) (*lifeline.Run, bool) {
	rn, ok := lifeline.FromContext(r.Context())
	if !ok {
		http.Error(w, "no run", http.StatusTeapot)
	}
	return rn, ok
}

// TestDoTimeLimit: a handler that sleeps past its 30 s limit, inside a
// bubble: the recorder gets the 503 after exactly 30 s of virtual time, and
// the record says why, with no real waiting.
func TestDoTimeLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := lifelinetest.NewPool(t, lifeline.WithTimeLimit(30*time.Second))
		h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(time.Minute) // a slow query that ignores its context
			io.WriteString(w, "too late")
		}))
		start := time.Now()
		resp := p.Do(h, httptest.NewRequest("GET", "/report", nil))
		if resp.Code != http.StatusServiceUnavailable {
			t.Errorf("Code = %d, want 503", resp.Code)
		}
		// A handler that cannot be stopped (it sleeps) is declared runaway
		// after the 2 s grace period, and the connection side answers.
		if got := time.Since(start); got != 32*time.Second {
			t.Errorf("answered after %v, want 32s (limit and grace)", got)
		}
		rec := resp.Record()
		if rec.Status != lifeline.Timeout || rec.Cause != lifeline.CauseTimeLimit || !rec.Runaway || rec.URI != "/report" {
			t.Errorf("Record = %+v, want a runaway timeout of /report", rec)
		}
		if rec.Duration != time.Minute {
			t.Errorf("Record.Duration = %v, want 1m: the run ends when its handler returns", rec.Duration)
		}
	})
}

// TestDoCut: the limit hits after part of the answer reached the recorder.
// The pool cuts the response by panicking with http.ErrAbortHandler on the
// connection side, as net/http expects; Do reports it instead of letting it
// end the test.
func TestDoCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := lifelinetest.NewPool(t, lifeline.WithTimeLimit(time.Second))
		h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn, ok := run(w, r)
			if !ok {
				return
			}
			io.WriteString(w, "partial")
			http.NewResponseController(w).Flush()
			for {
				time.Sleep(100 * time.Millisecond)
				rn.Check()
			}
		}))
		resp := p.Do(h, httptest.NewRequest("GET", "/", nil))
		if !resp.Outcome.Cut || resp.Body.String() != "partial" {
			t.Errorf("Outcome = %+v, body %q; want a cut response after %q", resp.Outcome, resp.Body, "partial")
		}
		if rec := resp.Record(); rec.Status != lifeline.Timeout {
			t.Errorf("Record.Status = %v, want timeout", rec.Status)
		}
	})
}

// TestDoFinish: Do returns with the early answer while the run works on;
// Record waits for the work after Finish.
func TestDoFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := lifelinetest.NewPool(t)
		h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn, ok := run(w, r)
			if !ok {
				return
			}
			w.WriteHeader(http.StatusAccepted)
			rn.Finish()
			time.Sleep(5 * time.Second) // sending the e-mail
			rn.Annotate("mail", "sent")
		}))
		resp := p.Do(h, httptest.NewRequest("POST", "/order", nil))
		if resp.Code != http.StatusAccepted || !resp.Outcome.Finished {
			t.Errorf("Code = %d, Outcome = %+v; want 202 sent by Finish", resp.Code, resp.Outcome)
		}
		rec := resp.Record()
		if !rec.Finished || rec.Notes["mail"] != "sent" || rec.Duration != 5*time.Second {
			t.Errorf("Record = %+v, want the work after Finish done, 5s", rec)
		}
	})
}

// TestNextRecord: runs end in order, and NextRecord hands each out once.
func TestNextRecord(t *testing.T) {
	p := lifelinetest.NewPool(t)
	h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, path := range []string{"/a", "/b"} {
		p.Do(h, httptest.NewRequest("GET", path, nil))
	}
	if a, b := p.NextRecord(), p.NextRecord(); a.URI != "/a" || b.URI != "/b" {
		t.Errorf("NextRecord() = %q then %q, want /a then /b", a.URI, b.URI)
	}
	if n := len(p.Records()); n != 2 {
		t.Errorf("len(Records()) = %d, want 2", n)
	}
}

// waiter is a handler that answers its header and 100 bytes, flushed, then
// works without writing until its run context ends, then writes again (and
// is terminated there when the client left).
func waiter() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, strings.Repeat("x", 100))
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
		io.WriteString(w, "late")
	})
}

// causeResetOrClosed stands for either cause in TestLeave.
const causeResetOrClosed lifeline.Cause = 100

// TestLeave: every way to leave at every point, over HTTP/1 and HTTP/2,
// is seen by the run with the cause it implies.
func TestLeave(t *testing.T) {
	tests := []struct {
		name  string
		h2    bool
		at    lifelinetest.Point
		how   lifelinetest.How
		cause lifeline.Cause
		body  string
	}{
		{"h1/before-header/close", false, lifelinetest.BeforeHeader(), lifelinetest.Close, lifeline.CauseClosed, ""},
		{"h1/before-header/reset", false, lifelinetest.BeforeHeader(), lifelinetest.Reset, lifeline.CauseReset, ""},
		{"h1/after-header/close", false, lifelinetest.AfterHeader(), lifelinetest.Close, lifeline.CauseClosed, ""},
		{"h1/after-50-bytes/reset", false, lifelinetest.AfterBytes(50), lifelinetest.Reset, lifeline.CauseReset, strings.Repeat("x", 50)},
		{"h1/after-header/cancel", false, lifelinetest.AfterHeader(), lifelinetest.Cancel, lifeline.CauseClosed, ""},
		{"h2/before-header/cancel", true, lifelinetest.BeforeHeader(), lifelinetest.Cancel, lifeline.CauseClosed, ""},
		{"h2/after-50-bytes/cancel", true, lifelinetest.AfterBytes(50), lifelinetest.Cancel, lifeline.CauseClosed, strings.Repeat("x", 50)},
		{"h2/after-header/close", true, lifelinetest.AfterHeader(), lifelinetest.Close, lifeline.CauseClosed, ""},
		// Over HTTP/2 net/http may see the RST first and close the socket,
		// and the pool then reports the stream's end as a close.
		{"h2/before-header/reset", true, lifelinetest.BeforeHeader(), lifelinetest.Reset, causeResetOrClosed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := lifelinetest.NewPool(t)
			var opts []lifelinetest.Option
			if tt.h2 {
				opts = append(opts, lifelinetest.WithHTTP2())
			}
			srv := p.NewServer(waiter(), opts...)
			res := srv.Leave(httptest.NewRequest("GET", "/wait", nil), tt.at, tt.how)
			if res.Body != tt.body {
				t.Errorf("read %q before leaving, want %q (err %v)", res.Body, tt.body, res.Err)
			}
			rec := res.Record()
			if tt.cause == causeResetOrClosed && (rec.Cause == lifeline.CauseReset || rec.Cause == lifeline.CauseClosed) {
				rec.Cause = causeResetOrClosed
			}
			if rec.Status != lifeline.Aborted || rec.Cause != tt.cause {
				t.Errorf("Record: status %v, cause %v; want aborted, %v", rec.Status, rec.Cause, tt.cause)
			}
			if wantProto := map[bool]int{false: 1, true: 2}[tt.h2]; res.Code != 0 && !strings.HasPrefix(res.Proto, "HTTP/"+string(rune('0'+wantProto))) {
				t.Errorf("Proto = %q, want HTTP/%d", res.Proto, wantProto)
			}
		})
	}
}

// TestLeaveWhen: the client leaves at the moment the handler chooses;
// with ignore_user_abort the run goes on to its end and its record says
// the client left.
func TestLeaveWhen(t *testing.T) {
	p := lifelinetest.NewPool(t)
	charged := make(chan struct{})
	srv := p.NewServer(p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, ok := run(w, r)
		if !ok {
			return
		}
		rn.IgnoreUserAbort(true)
		close(charged)
		// The handler checks connection_aborted() between steps, as a PHP
		// script would; bounded, so that a missed abort fails the test.
		for end := time.Now().Add(10 * time.Second); !rn.Aborted() && time.Now().Before(end); {
			time.Sleep(time.Millisecond)
		}
		rn.Annotate("stored", "yes")
	})))
	res := srv.Leave(httptest.NewRequest("POST", "/order", nil), lifelinetest.When(charged), lifelinetest.Reset)
	rec := res.Record()
	if rec.Status != lifeline.Aborted || rec.Cause != lifeline.CauseReset || !rec.IgnoreUserAbort || rec.Notes["stored"] != "yes" {
		t.Errorf("Record = %+v, want an aborted run (reset) that ignored the abort and stored the order", rec)
	}
}

// TestDoOverServer: a whole response, and its run's record, over loopback.
func TestDoOverServer(t *testing.T) {
	p := lifelinetest.NewPool(t)
	srv := p.NewServer(p.Middleware(lifeline.WithRoute("hello"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Lifelinetest-Request") != "" {
			t.Error("the kit's request header reached the handler")
		}
		io.WriteString(w, "hello")
	})))
	res := srv.Get("/hello")
	if res.Err != nil || res.Code != 200 || res.Body != "hello" {
		t.Fatalf("Get = %d %q, %v; want 200 hello", res.Code, res.Body, res.Err)
	}
	if rec := res.Record(); rec.Route != "hello" || rec.Code != 200 || rec.Status != lifeline.Normal {
		t.Errorf("Record = %+v, want a normal 200 of route hello", rec)
	}
}

// TestInMemory: the real net/http server and client in a bubble: a 30 s
// time limit and a client that leaves, in virtual time.
func TestInMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := lifelinetest.NewPool(t, lifeline.WithTimeLimit(30*time.Second))
		srv := p.NewServer(p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/wait" {
				waiter().ServeHTTP(w, r)
				return
			}
			time.Sleep(time.Minute)
			io.WriteString(w, "too late")
		})), lifelinetest.WithInMemoryNetwork())
		start := time.Now()
		res := srv.Get("/slow")
		if res.Code != http.StatusServiceUnavailable || time.Since(start) != 32*time.Second {
			t.Errorf("Get = %d after %v, want 503 after 32s (limit and grace)", res.Code, time.Since(start))
		}
		if rec := res.Record(); rec.Status != lifeline.Timeout {
			t.Errorf("Record.Status = %v, want timeout", rec.Status)
		}
		res = srv.Leave(httptest.NewRequest("GET", "/wait", nil), lifelinetest.AfterBytes(10), lifelinetest.Close)
		if rec := res.Record(); rec.Status != lifeline.Aborted || rec.Cause != lifeline.CauseClosed {
			t.Errorf("Record: status %v, cause %v; want aborted, closed", rec.Status, rec.Cause)
		}
	})
}

// TestLeaveSilent: a client whose packets stop is noticed within the
// dead-peer timeout. It needs root and iptables (a network namespace).
func TestLeaveSilent(t *testing.T) {
	p := lifelinetest.NewPool(t)
	srv := p.NewServer(waiter(), lifelinetest.WithSilentClients(),
		lifelinetest.WithServerOptions(server.WithDeadPeerTimeout(2*time.Second)))
	left := time.Now()
	res := srv.Leave(httptest.NewRequest("GET", "/wait", nil), lifelinetest.AfterHeader(), lifelinetest.Silent)
	rec := res.Record()
	if rec.Status != lifeline.Aborted || rec.Cause != lifeline.CauseSilentPeer {
		t.Errorf("Record: status %v, cause %v; want aborted, silent peer", rec.Status, rec.Cause)
	}
	if d := time.Since(left); d > 5*time.Second {
		t.Errorf("noticed after %v, want within the 2s dead-peer timeout plus a check", d)
	}
}

// fakeTB stops at the first Fatalf and keeps its message.
type fakeTB struct {
	testing.TB
	fatal string
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	panic(f)
}

// fatal runs f with a fakeTB over t and returns what it failed with.
func fatal(t *testing.T, f func(tb testing.TB)) (msg string) {
	tb := &fakeTB{TB: t}
	defer func() {
		if v := recover(); v != nil && v != any(tb) {
			panic(v)
		}
		msg = tb.fatal
	}()
	f(tb)
	return ""
}

// TestInvalidOption: a nil or conflicting option, or a second server on one
// pool, fails the test at set-up with ErrInvalidOption's message.
func TestInvalidOption(t *testing.T) {
	tests := []struct {
		name string
		f    func(p *lifelinetest.Pool)
		want string
	}{
		{"nil", func(p *lifelinetest.Pool) { p.NewServer(http.NotFoundHandler(), lifelinetest.WithHTTP2(), nil) }, "option 1 is nil"},
		{"silent-in-memory", func(p *lifelinetest.Pool) {
			p.NewServer(http.NotFoundHandler(), lifelinetest.WithInMemoryNetwork(), lifelinetest.WithSilentClients())
		}, "no packets to drop"},
		{"second-server", func(p *lifelinetest.Pool) {
			p.NewServer(http.NotFoundHandler(), lifelinetest.WithInMemoryNetwork())
			p.NewServer(http.NotFoundHandler(), lifelinetest.WithInMemoryNetwork())
		}, "a pool serves one server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := fatal(t, func(tb testing.TB) { tt.f(lifelinetest.NewPool(tb)) })
			if !strings.Contains(msg, lifelinetest.ErrInvalidOption.Error()) || !strings.Contains(msg, tt.want) {
				t.Errorf("failed with %q, want %q and %q", msg, lifelinetest.ErrInvalidOption, tt.want)
			}
		})
	}
}

// TestWaitIdle: WaitIdle returns when the last of several runs ends (their
// work after Finish included), at that moment of the bubble's clock, and
// fails the test with ErrWaitTimeout while a run outlives its bound.
func TestWaitIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := lifelinetest.NewPool(t)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn, _ := run(w, r)
			rn.Finish()
			time.Sleep(time.Second) // work after the answer
		})
		start := time.Now()
		for range 3 {
			go p.Do(h, httptest.NewRequest("GET", "/", nil))
		}
		synctest.Wait()
		p.WaitIdle(2 * time.Second)
		if d := time.Since(start); d != time.Second {
			t.Errorf("WaitIdle returned after %v, want 1s (the runs' end)", d)
		}
		if n := len(p.Records()); n != 3 {
			t.Errorf("%d records, want 3", n)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		msg := fatal(t, func(tb testing.TB) {
			p := lifelinetest.NewPool(tb)
			go p.Do(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }), httptest.NewRequest("GET", "/", nil))
			synctest.Wait()
			p.WaitIdle(time.Second)
		})
		close(release)
		if !strings.Contains(msg, lifelinetest.ErrWaitTimeout.Error()) || !strings.Contains(msg, "1 runs still active") {
			t.Errorf("failed with %q, want %q and the active run", msg, lifelinetest.ErrWaitTimeout)
		}
	})
}
