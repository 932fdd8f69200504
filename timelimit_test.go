package lifeline_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline"
)

// serve runs one request through h synchronously, as net/http would.
func serve(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

// TestTimeLimit covers the limit's expiry: Timeout flag, context cause,
// termination at the next output or Check, the 503 answer when nothing was
// sent (tests/basic/timeout_variation_0.phpt, _7, _8: a busy loop is stopped),
// and the shutdown function that still runs and sees status 2
// (tests/func/005a.phpt).
func TestTimeLimit(t *testing.T) {
	tests := []struct {
		name     string
		stop     func(rn *lifeline.Run, w http.ResponseWriter)
		wantCode int
	}{
		{"busy-loop-check", func(rn *lifeline.Run, w http.ResponseWriter) {
			for {
				time.Sleep(10 * time.Millisecond) // one slice of work
				rn.Check()
			}
		}, http.StatusServiceUnavailable},
		{"write", func(rn *lifeline.Run, w http.ResponseWriter) {
			<-rn.Context().Done()
			io.WriteString(w, "too late")
		}, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPool(t, lifeline.WithTimeLimit(time.Second))
				var got struct {
					status  lifeline.Status
					cause   error
					elapsed time.Duration
				}
				h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
					rn := mustRun(t, r)
					start := time.Now()
					rn.RegisterShutdown(func(ctx context.Context, rn *lifeline.Run) {
						got.status, got.cause, got.elapsed = rn.Status(), context.Cause(r.Context()), time.Since(start)
						if ctx.Err() != nil {
							t.Error("shutdown context already cancelled")
						}
					})
					io.WriteString(w, "partial")
					tt.stop(rn, w)
				}))
				rec := serve(h, "GET", "/")
				if rec.Code != tt.wantCode {
					t.Errorf("code = %d, want %d", rec.Code, tt.wantCode)
				}
				if strings.Contains(rec.Body.String(), "partial") {
					t.Errorf("body %q leaks the partial output", rec.Body)
				}
				if got.status != lifeline.Timeout || !errors.Is(got.cause, lifeline.ErrTimeLimit) {
					t.Errorf("shutdown saw %v / %v, want timeout / ErrTimeLimit", got.status, got.cause)
				}
				if got.elapsed < time.Second || got.elapsed > 1100*time.Millisecond {
					t.Errorf("stopped after %v, want about 1s", got.elapsed)
				}
			})
		})
	}
}

// TestSetTimeLimitRestarts is the manual's example: 25s into a 30s limit,
// set_time_limit(20) lets the script run until 45s in total.
func TestSetTimeLimitRestarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, lifeline.WithTimeLimit(30*time.Second))
		var stoppedAt time.Duration
		h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn := mustRun(t, r)
			start := time.Now()
			rn.RegisterShutdown(func(context.Context, *lifeline.Run) { stoppedAt = time.Since(start) })
			time.Sleep(25 * time.Second)
			rn.SetTimeLimit(20 * time.Second)
			if limit, left := rn.TimeLimit(); limit != 20*time.Second || left != 20*time.Second {
				t.Errorf("TimeLimit() = %v, %v; want 20s, 20s", limit, left)
			}
			<-r.Context().Done()
			rn.Check()
		}))
		serve(h, "GET", "/")
		if stoppedAt != 45*time.Second {
			t.Errorf("terminated at %v, want 45s", stoppedAt)
		}
	})
}

// TestUnlimited: 0 means no limit (set_time_limit(0)).
func TestUnlimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, lifeline.WithTimeLimit(time.Second))
		h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn := mustRun(t, r)
			rn.SetTimeLimit(0)
			time.Sleep(time.Hour)
			rn.Check()
			io.WriteString(w, "done")
		}))
		if rec := serve(h, "GET", "/"); rec.Body.String() != "done" {
			t.Errorf("body = %q, want done", rec.Body)
		}
	})
}

// TestRunaway: a handler that ignores its limit is answered for by the
// connection side after the grace period and counted as runaway; when
// headers were already sent, the response is cut short (a panic with
// http.ErrAbortHandler, which net/http turns into a closed connection).
// Zend/tests/bug74093.phpt is PHP's version: a call stuck past limit +
// hard_timeout is killed with exit 124 and no shutdown functions; Lifeline
// cannot kill a goroutine, so it answers for it and keeps counting it.
func TestRunaway(t *testing.T) {
	for _, sentFirst := range []bool{false, true} {
		name := map[bool]string{false: "nothing-sent", true: "headers-sent"}[sentFirst]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPool(t, lifeline.WithTimeLimit(time.Second), lifeline.WithGracePeriod(2*time.Second))
				release := make(chan struct{})
				h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if sentFirst {
						io.WriteString(w, "partial")
						w.(http.Flusher).Flush()
					}
					<-release // stuck, ignoring its context
				}))
				start := time.Now()
				rec := httptest.NewRecorder()
				aborted := func() (aborted bool) {
					defer func() { aborted = recover() == http.ErrAbortHandler }()
					h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
					return false
				}()
				if took := time.Since(start); took != 3*time.Second {
					t.Errorf("answered after %v, want 3s (limit + grace)", took)
				}
				if aborted != sentFirst {
					t.Errorf("stream aborted = %v, want %v", aborted, sentFirst)
				}
				if !sentFirst && rec.Code != http.StatusServiceUnavailable {
					t.Errorf("code = %d, want 503", rec.Code)
				}
				if act := p.Active(); len(act) != 1 || !act[0].Runaway {
					t.Errorf("Active() = %+v, want one runaway run", act)
				}
				if s := p.Stats(); s.Runaway != 1 {
					t.Errorf("Stats().Runaway = %d, want 1", s.Runaway)
				}
				close(release)
				synctest.Wait()
				if rec := p.Recent(); len(rec) != 1 || !rec[0].Runaway || rec[0].Status != lifeline.Timeout {
					t.Errorf("Recent() = %+v, want one runaway timeout record", rec)
				}
			})
		})
	}
}

// TestShutdownBudget: after a timeout, shutdown functions get the shutdown
// budget (PHP's hard_timeout); without one they share what is left of the
// limit (PHP-SEMANTICS §3.5, E6/E7; tests/lang/045.phpt: after a timeout
// the shutdown function gets hard_timeout).
func TestShutdownBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, lifeline.WithTimeLimit(10*time.Second), lifeline.WithShutdownBudget(2*time.Second))
		deadlines := make(chan time.Duration, 2)
		h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn := mustRun(t, r)
			rn.RegisterShutdown(func(ctx context.Context, rn *lifeline.Run) {
				d, _ := ctx.Deadline()
				deadlines <- time.Until(d)
			})
			if r.URL.Path == "/timeout" {
				time.Sleep(11 * time.Second)
				rn.Check()
			}
			time.Sleep(4 * time.Second)
		}))
		serve(h, "GET", "/normal")
		if d := <-deadlines; d != 6*time.Second {
			t.Errorf("normal end: shutdown budget %v, want the 6s left of the limit", d)
		}
		serve(h, "GET", "/timeout")
		if d := <-deadlines; d != 2*time.Second {
			t.Errorf("after timeout: shutdown budget %v, want 2s", d)
		}
	})
}
