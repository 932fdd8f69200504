package lifeline_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/cstest"
)

// seen is what a handler observed when its client left.
type seen struct {
	status   lifeline.Status
	cause    error
	at       time.Time
	shutdown lifeline.Status // status seen by the shutdown function
}

// silentHandler starts, says so, then writes nothing and waits for its run
// context, as a handler doing slow work would.
func silentHandler(t *testing.T, started chan<- struct{}, out chan<- seen) http.Handler {
	return handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn := mustRun(t, r)
		var s seen
		rn.RegisterShutdown(func(ctx context.Context, rn *lifeline.Run) {
			s.shutdown = rn.Status()
			out <- s
		})
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			s.at = time.Now()
			s.status = rn.Status()
			s.cause = context.Cause(r.Context())
		case <-time.After(10 * time.Second):
			s.status = rn.Status()
		}
	})
}

// TestAbortDetectionHTTP1 covers the cases net/http alone misses (DESIGN §4):
// a client that closes or resets while the handler writes nothing, with an
// unread POST body, and with a pipelined request waiting.
func TestAbortDetectionHTTP1(t *testing.T) {
	tests := []struct {
		name    string
		request string
		reset   bool
		cause   error
	}{
		{"fin", "GET /x HTTP/1.1\r\nHost: a\r\n\r\n", false, lifeline.ErrClientAborted},
		{"rst", "GET /x HTTP/1.1\r\nHost: a\r\n\r\n", true, lifeline.ErrPeerReset},
		{"fin-unread-post-body", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("b", 5000), false, lifeline.ErrClientAborted},
		{"rst-unread-post-body", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("b", 5000), true, lifeline.ErrPeerReset},
		{"fin-pipelined", "GET /x HTTP/1.1\r\nHost: a\r\n\r\nGET /y HTTP/1.1\r\nHost: a\r\n\r\n", false, lifeline.ErrClientAborted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPool(t)
			started, out := make(chan struct{}, 2), make(chan seen, 2)
			c := sendRaw(t, p, silentHandler(t, started, out), tt.request)
			<-started
			if tt.reset {
				_ = c.SetLinger(0)
			}
			closed := time.Now()
			c.Close()
			s := <-out
			if s.status != lifeline.Aborted || s.shutdown != lifeline.Aborted {
				t.Fatalf("status = %v, shutdown saw %v; want aborted", s.status, s.shutdown)
			}
			if !errors.Is(s.cause, tt.cause) || !errors.Is(s.cause, lifeline.ErrClientAborted) {
				t.Errorf("cause = %v, want %v", s.cause, tt.cause)
			}
			t.Logf("detected %v after the client closed", s.at.Sub(closed))
			if !waitFor(5*time.Second, func() bool { return len(p.Recent()) > 0 }) {
				t.Fatal("no record after the run")
			}
			if rec := p.Recent()[0]; rec.Status != lifeline.Aborted || rec.Cause == lifeline.CauseNone {
				t.Errorf("Recent()[0] = %+v, want an aborted record with a cause", rec)
			}
		})
	}
}

// TestAbortDetectionHTTP2 covers an HTTP/2 stream reset (the client cancels
// its request) over TLS and h2c.
func TestAbortDetectionHTTP2(t *testing.T) {
	for _, m := range []cstest.Mode{cstest.H2, cstest.H2C} {
		t.Run(string(m), func(t *testing.T) {
			p := newPool(t)
			started, out := make(chan struct{}, 1), make(chan seen, 1)
			srv := cstest.Start(t, m, p.Middleware()(silentHandler(t, started, out)), p.ConfigureServer)
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() {
				req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
				res, err := srv.Client.Do(req)
				if err == nil {
					if res.ProtoMajor != 2 {
						err = errors.New("not HTTP/2: " + res.Proto)
					}
					res.Body.Close()
				}
				errc <- err
			}()
			<-started
			cancel()
			s := <-out
			<-errc
			if s.status != lifeline.Aborted || !errors.Is(s.cause, lifeline.ErrClientAborted) {
				t.Fatalf("status = %v cause = %v; want aborted", s.status, s.cause)
			}
		})
	}
}

// TestTerminatedAtNextOutput: without ignore_user_abort the run stops at its
// next Write (PHP's bailout at output), and the shutdown function still runs
// and sees status 1 (PHP-SEMANTICS §2.2).
func TestTerminatedAtNextOutput(t *testing.T) {
	p := newPool(t)
	started, done := make(chan struct{}), make(chan string, 1)
	h := handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn := mustRun(t, r)
		progress := "start"
		rn.RegisterShutdown(func(ctx context.Context, rn *lifeline.Run) {
			done <- progress + " " + rn.Status().String()
		})
		close(started)
		<-r.Context().Done()
		progress = "before-write"
		_, _ = io.WriteString(w, "after abort")
		progress = "after-write" // never reached
	})
	c := sendRaw(t, p, h, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	<-started
	c.Close()
	if got := <-done; got != "before-write aborted" {
		t.Errorf("shutdown saw %q, want %q", got, "before-write aborted")
	}
}

// TestIgnoreUserAbort: with ignore_user_abort the context survives the
// abort, output is discarded without error, the run completes with status
// Aborted; switching it off afterwards terminates at the next output.
func TestIgnoreUserAbort(t *testing.T) {
	tests := []struct {
		name      string
		switchOff bool
		want      string
	}{
		{"completes", false, "done ctx-alive write-ok aborted"},
		{"switched-off", true, "terminated aborted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPool(t, lifeline.WithIgnoreUserAbort(true))
			started, done := make(chan struct{}), make(chan string, 1)
			h := handlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rn := mustRun(t, r)
				result := "terminated"
				rn.RegisterShutdown(func(ctx context.Context, rn *lifeline.Run) {
					done <- result + " " + rn.Status().String()
				})
				close(started)
				if !waitFor(5*time.Second, rn.Aborted) {
					result = "never-aborted"
					return
				}
				ctxState := "ctx-alive"
				if r.Context().Err() != nil {
					ctxState = "ctx-cancelled"
				}
				if tt.switchOff {
					if prev := rn.IgnoreUserAbort(false); !prev {
						result = "previous-false"
						return
					}
					if !errors.Is(context.Cause(r.Context()), lifeline.ErrClientAborted) {
						result = "not-cancelled-after-switch"
						return
					}
				}
				_, err := io.WriteString(w, strings.Repeat("x", 10000))
				writeState := "write-ok"
				if err != nil {
					writeState = "write-err"
				}
				w.(http.Flusher).Flush()
				result = "done " + ctxState + " " + writeState
			})
			c := sendRaw(t, p, h, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			<-started
			c.Close()
			got := <-done
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
