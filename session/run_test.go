package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/wait"
	"github.com/lifeline-go/lifeline/output"
	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/sessiontest"
)

// runEnv is a Lifeline pool over a real HTTP server with a session
// Manager, for the end-to-end cases of PHP's session locking.
type runEnv struct {
	t      *testing.T
	pool   *lifeline.Pool
	m      *session.Manager
	srv    *httptest.Server
	cookie *http.Cookie // an existing session, with n = 0
}

func newRunEnv(t *testing.T, h func(e *runEnv) http.Handler, opts ...session.Option) *runEnv {
	t.Helper()
	pool, err := lifeline.NewPool(lifeline.WithTimeLimit(20 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	e := &runEnv{t: t, pool: pool, m: newManager(t, newMemStore(t), opts...)}
	e.cookie = sessiontest.NewSession(t, e.m, func(s *session.Session) error { return s.Set("n", 0) })
	e.srv = httptest.NewServer(pool.Middleware()(h(e)))
	t.Cleanup(func() {
		e.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := pool.Shutdown(ctx); err != nil {
			t.Errorf("Pool.Shutdown = %v", err)
		}
	})
	return e
}

type response struct {
	code int
	body string
	err  error
}

// get requests path with the session cookie in the background.
func (e *runEnv) get(ctx context.Context, path string) <-chan response {
	out := make(chan response, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+path, nil)
		req.AddCookie(e.cookie)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			out <- response{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		out <- response{code: resp.StatusCode, body: string(b), err: err}
	}()
	return out
}

// await returns the response, failing after patience.
func (e *runEnv) await(ch <-chan response) response {
	e.t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			e.t.Fatalf("request: %v", r.err)
		}
		return r
	case <-time.After(10 * time.Second):
		e.t.Fatal("no response within 10s")
		return response{}
	}
}

// note returns the "session" annotation of the live run serving path.
func (e *runEnv) note(path string) string {
	for _, ri := range e.pool.Active() {
		if ri.URI == path {
			return ri.Notes["session"]
		}
	}
	return ""
}

// waitNote polls the status of the run serving path until its session
// annotation starts with prefix (the status page's view of lock holders).
func (e *runEnv) waitNote(path, prefix string) {
	e.t.Helper()
	wait.For(e.t, 10*time.Second, "run "+path+": session note "+prefix+"...", func() bool {
		return strings.HasPrefix(e.note(path), prefix)
	})
}

// readN is the second request of every scenario: it starts the session
// (read-only with ?ro) and answers with n.
func readN(e *runEnv, w http.ResponseWriter, r *http.Request) {
	var s *session.Session
	var err error
	if r.URL.Query().Has("ro") {
		s, err = e.m.StartReadOnly(r)
	} else {
		s, err = e.m.Start(w, r)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	n, _, _ := session.Value[int](s, "n")
	fmt.Fprint(w, n)
}

// TestRunLocking is the seed's scenario end to end: request A holds the
// session while it does slow work; request B with the same session...
func TestRunLocking(t *testing.T) {
	tests := []struct {
		name     string
		hold     func(s *session.Session, rn *lifeline.Run) // what A does before its slow work
		bPath    string
		bWaits   bool // B cannot answer before A's work is over
		wantN    string
		wantNote string // A's annotation while it works
	}{
		{
			name:  "B waits for A (PHP's lock)",
			hold:  func(s *session.Session, rn *lifeline.Run) {},
			bPath: "/b", bWaits: true, wantN: "1", wantNote: "locked",
		},
		{
			name: "WriteClose before the slow work: B does not wait",
			hold: func(s *session.Session, rn *lifeline.Run) {
				_ = s.WriteClose(rn.Context())
			},
			bPath: "/b", wantN: "1", wantNote: "released",
		},
		{
			name:  "read_and_close never waits",
			hold:  func(s *session.Session, rn *lifeline.Run) {},
			bPath: "/b?ro", wantN: "0", wantNote: "locked",
		},
		{
			name: "Finish releases the session",
			hold: func(s *session.Session, rn *lifeline.Run) {
				_ = rn.Finish()
			},
			bPath: "/b", wantN: "1", wantNote: "released",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			working := make(chan struct{})
			e := newRunEnv(t, func(e *runEnv) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path != "/a" {
						readN(e, w, r)
						return
					}
					rn, _ := lifeline.FromContext(r.Context())
					s, err := e.m.Start(w, r)
					if err != nil {
						t.Error(err)
						return
					}
					_ = s.Set("n", 1)
					fmt.Fprint(w, "A")
					tt.hold(s, rn)
					close(working)
					<-release // the slow work
				})
			})
			a := e.get(t.Context(), "/a")
			<-working
			e.waitNote("/a", tt.wantNote)
			b := e.get(t.Context(), tt.bPath)
			if tt.bWaits {
				e.waitNote(tt.bPath, "waiting "+strings.TrimPrefix(e.note("/a"), "locked "))
				select {
				case r := <-b:
					t.Fatalf("B answered %q while A held the session", r.body)
				default:
				}
				close(release)
			}
			if r := e.await(b); r.code != http.StatusOK || r.body != tt.wantN {
				t.Errorf("B = %d %q, want 200 %q", r.code, r.body, tt.wantN)
			}
			if !tt.bWaits {
				close(release) // B answered while A was still working
			}
			e.await(a)
		})
	}
}

// TestFinishReleasesBeforeResponse is the seed's redirect: A answers with
// a redirect, calls Finish and works on. At Finish the session is written
// and unlocked before the client gets the response, so the client's next
// page loads at once instead of waiting for A's background work.
func TestFinishReleasesBeforeResponse(t *testing.T) {
	release := make(chan struct{})
	lateSet := make(chan error, 1)
	e := newRunEnv(t, func(e *runEnv) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/a" {
				readN(e, w, r)
				return
			}
			rn, _ := lifeline.FromContext(r.Context())
			s, _ := e.m.Start(w, r)
			_ = s.Set("n", 1)
			http.Redirect(w, r, "/next", http.StatusFound)
			_ = rn.Finish()
			lateSet <- s.Set("n", 2) // the seed: "don't write to the session after session_write_close()"
			<-release
		})
	})
	defer close(release)
	var noteAtRedirect string
	client := *e.srv.Client()
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		noteAtRedirect = e.note("/a") // the client has A's response now
		req.AddCookie(e.cookie)
		return nil
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL+"/a", nil)
	req.AddCookie(e.cookie)
	resp, err := client.Do(req) // follows the redirect while A still works
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(noteAtRedirect, "released") {
		t.Errorf("A's session was %q when the client got the redirect, want released", noteAtRedirect)
	}
	if resp.Request.URL.Path != "/next" || string(body) != "1" {
		t.Errorf("next page %s = %q, want /next reading n=1", resp.Request.URL.Path, body)
	}
	if err := <-lateSet; !errors.Is(err, session.ErrSessionClosed) {
		t.Errorf("Set after Finish = %v, want ErrSessionClosed", err)
	}
}

// TestKeepAfterFinish: a kept session stays locked through Finish and is
// written at the end of the run, after the shutdown functions, with every
// change (PHP-FPM's order).
func TestKeepAfterFinish(t *testing.T) {
	for _, viaOption := range []bool{false, true} {
		t.Run(fmt.Sprintf("option=%v", viaOption), func(t *testing.T) {
			release := make(chan struct{})
			var opts []session.Option
			if viaOption {
				opts = append(opts, session.WithKeepAfterFinish(true))
			}
			e := newRunEnv(t, func(e *runEnv) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path != "/a" {
						readN(e, w, r)
						return
					}
					rn, _ := lifeline.FromContext(r.Context())
					s, _ := e.m.Start(w, r)
					if !viaOption {
						s.KeepAfterFinish()
					}
					_ = s.Set("n", 1)
					_ = rn.Finish()
					_ = s.Set("n", 2)
					rn.RegisterShutdown(func(context.Context, *lifeline.Run) {
						if err := s.Set("n", 3); err != nil {
							t.Errorf("Set in a shutdown function = %v", err)
						}
					})
					<-release
				})
			}, opts...)
			e.await(e.get(t.Context(), "/a"))
			if note := e.note("/a"); !strings.HasPrefix(note, "locked") {
				t.Errorf("after Finish A's session is %q, want locked", note)
			}
			b := e.get(t.Context(), "/b")
			e.waitNote("/b", "waiting")
			close(release)
			if r := e.await(b); r.body != "3" {
				t.Errorf("B read n=%q, want 3 (written after the shutdown functions)", r.body)
			}
		})
	}
}

// TestHeadersSentInRun: PHP's "Session cannot be started after headers have
// already been sent", with the location of the output that sent them.
func TestHeadersSentInRun(t *testing.T) {
	got := make(chan error, 1)
	e := newRunEnv(t, func(e *runEnv) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn, _ := lifeline.FromContext(r.Context())
			fmt.Fprint(w, "early output")
			_ = rn.Output().FlushClient()
			_, err := e.m.Start(w, r)
			got <- err
		})
	})
	e.await(e.get(t.Context(), "/"))
	err := <-got
	if !errors.Is(err, session.ErrHeadersSent) || !errors.Is(err, output.ErrHeadersSent) {
		t.Fatalf("Start after output = %v, want ErrHeadersSent (both packages)", err)
	}
	var hs *output.HeadersSentError
	if !errors.As(err, &hs) {
		t.Errorf("error %v carries no *output.HeadersSentError", err)
	}
}

// TestRunEndWritesAfterShutdown: without Finish the session is written at
// the end of the run, after the shutdown functions, and a second Start in
// the same run returns the active session.
func TestRunEndWritesAfterShutdown(t *testing.T) {
	e := newRunEnv(t, func(e *runEnv) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/a" {
				readN(e, w, r)
				return
			}
			rn, _ := lifeline.FromContext(r.Context())
			s, _ := e.m.Start(w, r)
			again, _ := e.m.Start(w, r)
			if again != s {
				t.Error("second Start in a run returned another session")
			}
			rn.RegisterShutdown(func(context.Context, *lifeline.Run) { _ = s.Set("n", 5) })
		})
	})
	e.await(e.get(t.Context(), "/a"))
	if r := e.await(e.get(t.Context(), "/b")); r.body != "5" {
		t.Errorf("B read n=%q, want 5 from A's shutdown function", r.body)
	}
	for _, rec := range e.pool.Recent() {
		if rec.URI == "/a" && !strings.HasPrefix(rec.Notes["session"], "released") {
			t.Errorf("A's record notes %v, want session released", rec.Notes)
		}
	}
}

// TestRunAbortWhileWaiting: a client that leaves while its request waits
// for the lock ends the wait with the run's cause.
func TestRunAbortWhileWaiting(t *testing.T) {
	release := make(chan struct{})
	got := make(chan error, 1)
	e := newRunEnv(t, func(e *runEnv) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := e.m.Start(w, r)
			if r.URL.Path == "/a" {
				<-release
				return
			}
			got <- err
			if err == nil {
				_ = s.Abort(r.Context())
			}
		})
	})
	a := e.get(t.Context(), "/a")
	e.waitNote("/a", "locked")
	ctx, cancel := context.WithCancel(t.Context())
	b := e.get(ctx, "/b")
	e.waitNote("/b", "waiting")
	cancel()
	<-b
	select {
	case err := <-got:
		if !errors.Is(err, lifeline.ErrClientAborted) {
			t.Errorf("Start after the client left = %v, want ErrClientAborted", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("Start still waiting 10s after the client left")
	}
	close(release)
	e.await(a)
}
