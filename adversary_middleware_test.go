package lifeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
)

// TestAdversaryNestedNeverASecondRun: a Middleware reached by a request that
// already belongs to a run never starts a second run, whatever the phase of
// that run: after Finish, inside a shutdown function, or after the run ended
// (a goroutine that kept the request and the ResponseWriter).
func TestAdversaryNestedNeverASecondRun(t *testing.T) {
	tests := []struct {
		name string
		body string // what the client gets
		// outer is the outer route's handler; it calls inner at the chosen
		// point and closes done when inner has returned.
		outer func(inner http.Handler, done chan<- error) http.HandlerFunc
	}{
		{"after Finish", "answer", func(inner http.Handler, done chan<- error) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "answer")
				if err := runOf(r).Finish(); err != nil {
					done <- fmt.Errorf("Finish: %w", err)
					return
				}
				inner.ServeHTTP(w, r)
				done <- nil
			}
		}},
		{"in a shutdown function", "answer-inner", func(inner http.Handler, done chan<- error) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "answer")
				runOf(r).RegisterShutdown(func(context.Context, *lifeline.Run) {
					inner.ServeHTTP(w, r)
					done <- nil
				})
			}
		}},
		{"after the run ended", "answer", func(inner http.Handler, done chan<- error) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "answer")
				rn := runOf(r)
				go func() {
					<-rn.Context().Done() // cancelled at the run's end, after its phase says done
					if ph := rn.Phase(); ph != lifeline.PhaseDone {
						done <- fmt.Errorf("run context ended in phase %v", ph)
						return
					}
					inner.ServeHTTP(w, r)
					done <- nil
				}()
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPool(t)
			done := make(chan error, 1)
			innerRan := make(chan *lifeline.Run, 1)
			inner := p.Middleware(lifeline.WithRoute("inner"))(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rn, _ := lifeline.FromContext(r.Context())
				innerRan <- rn
				io.WriteString(w, "-inner")
			}))
			srv := httptest.NewServer(p.Middleware(lifeline.WithRoute("outer"))(tt.outer(inner, done)))
			defer srv.Close()
			res, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if string(body) != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the inner route did not return")
			}
			<-innerRan
			if n := p.Stats().Accepted; n != 1 {
				t.Errorf("runs started = %d, want 1 (the nested route started a second run)", n)
			}
		})
	}
}

// TestAdversaryNestedLimitAlreadyElapsed: a nested route whose time limit is
// shorter than the time the run has already taken ends the run at once,
// as its limit counted from the run's start says.
func TestAdversaryNestedLimitAlreadyElapsed(t *testing.T) {
	p := newPool(t, lifeline.WithTimeLimit(time.Hour))
	cause := make(chan error, 1)
	inner := p.Middleware(lifeline.WithTimeLimit(time.Millisecond))(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			cause <- context.Cause(r.Context())
		case <-time.After(5 * time.Second):
			cause <- errors.New("not cancelled within 5s")
		}
		io.WriteString(w, "late") // terminated here
		t.Error("Write did not terminate the run")
	}))
	outer := handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		for time.Since(start) < 20*time.Millisecond {
			time.Sleep(time.Millisecond) // time passes: the condition, not a synchronisation
		}
		inner.ServeHTTP(w, r)
	})
	rec := serve(p.Middleware()(outer), "GET", "/")
	if err := <-cause; !errors.Is(err, lifeline.ErrTimeLimit) {
		t.Errorf("context cause = %v, want ErrTimeLimit", err)
	}
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("code = %d, want 503", rec.Code)
	}
}

// TestAdversaryNestedBufferAfterOutput: a nested WithOutputBuffering after
// the outer handler wrote (buffered, or flushed) loses and reorders nothing.
func TestAdversaryNestedBufferAfterOutput(t *testing.T) {
	tests := []struct {
		name  string
		pool  []lifeline.Option
		inner []lifeline.Option
		flush bool
		own   bool // the outer handler started a buffer of its own
	}{
		{"buffered, inner unbuffered", nil, []lifeline.Option{lifeline.WithOutputBuffering(0)}, false, false},
		{"flushed, inner unbuffered", nil, []lifeline.Option{lifeline.WithOutputBuffering(0)}, true, false},
		{"unbuffered pool, written, inner buffered", []lifeline.Option{lifeline.WithOutputBuffering(0)}, []lifeline.Option{lifeline.WithOutputBuffering(1 << 16)}, false, false},
		{"own buffer, inner resize", nil, []lifeline.Option{lifeline.WithOutputBuffering(10)}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPool(t, tt.pool...)
			inner := p.Middleware(tt.inner...)(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "-b")
			}))
			outer := handlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.own {
					if err := runOf(r).Output().Start(nil, 0, 0); err != nil {
						t.Errorf("Start: %v", err)
					}
				}
				io.WriteString(w, "a")
				if tt.flush {
					w.(http.Flusher).Flush()
				}
				inner.ServeHTTP(w, r)
				io.WriteString(w, "-c")
			})
			srv := httptest.NewServer(p.Middleware()(outer))
			defer srv.Close()
			res, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if string(body) != "a-b-c" {
				t.Errorf("body %q, want %q", body, "a-b-c")
			}
		})
	}
}
