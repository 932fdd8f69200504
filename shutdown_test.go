package lifeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline"
)

// TestShutdownFunctions: registration order, exactly once, nested
// registration in the same pass (bug70249.phpt: 200 nested), a panic in one
// does not stop the rest (unlike PHP, where a fatal error in one skips the
// rest: Lifeline has no exit), valid callbacks run in order
// (bug32647.phpt), and their output reaches the client
// (tests/func/005.phpt: "…on shutdown...\nfoo").
func TestShutdownFunctions(t *testing.T) {
	p := newPool(t)
	var order []string
	h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn := mustRun(t, r)
		rn.RegisterShutdown(func(ctx context.Context, rn *lifeline.Run) {
			order = append(order, "first")
			io.WriteString(w, "foo")
			var nest func(n int) func(context.Context, *lifeline.Run)
			nest = func(n int) func(context.Context, *lifeline.Run) {
				return func(ctx context.Context, rn *lifeline.Run) {
					if n < 200 {
						rn.RegisterShutdown(nest(n + 1))
						return
					}
					order = append(order, "nested-200")
				}
			}
			rn.RegisterShutdown(nest(1))
		})
		rn.RegisterShutdown(func(context.Context, *lifeline.Run) {
			order = append(order, "panics")
			panic("boom")
		})
		rn.RegisterShutdown(func(context.Context, *lifeline.Run) { order = append(order, "third") })
		io.WriteString(w, "…on shutdown...\n")
	}))
	rec := serve(h, "GET", "/")
	if got, want := rec.Body.String(), "…on shutdown...\nfoo"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
	if got, want := strings.Join(order, ","), "first,panics,third,nested-200"; got != want {
		t.Errorf("order = %s, want %s", got, want)
	}
	if s := p.Stats(); s.ShutdownPanics != 1 {
		t.Errorf("ShutdownPanics = %d, want 1", s.ShutdownPanics)
	}
	waitFor(5*time.Second, func() bool { return len(p.Recent()) == 1 })
	if rec := p.Recent(); len(rec) != 1 || rec[0].ShutdownFuncs != 203 {
		t.Errorf("Recent() = %+v, want one record with 203 shutdown functions", rec)
	}
}

// TestHandlerPanic: a panic is recovered on the run goroutine, answered with
// 500 when nothing was sent, and the shutdown functions still run
// (Zend/tests/bug60909_1.phpt, bug61767.phpt: shutdown functions run after
// an uncaught error).
func TestHandlerPanic(t *testing.T) {
	p := newPool(t)
	ran := false
	h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mustRun(t, r).RegisterShutdown(func(context.Context, *lifeline.Run) { ran = true })
		io.WriteString(w, "buffered, never sent")
		panic("handler bug")
	}))
	rec := serve(h, "GET", "/")
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "buffered") {
		t.Errorf("got %d %q, want a clean 500", rec.Code, rec.Body)
	}
	if !ran {
		t.Error("shutdown function did not run after the panic")
	}
	if s := p.Stats(); s.Panics != 1 {
		t.Errorf("Stats().Panics = %d, want 1", s.Panics)
	}
}

// TestErrAbortHandler keeps its net/http meaning: the response is cut short.
func TestErrAbortHandler(t *testing.T) {
	p := newPool(t)
	h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		panic(http.ErrAbortHandler)
	}))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	serve(h, "GET", "/")
	t.Error("ServeHTTP returned normally")
}

// TestStatusBothOrders: flags only turn on, and abort+timeout is 3 in either
// order (DESIGN §1: the manual's rule, not PHP's assignment bug of §1).
func TestStatusBothOrders(t *testing.T) {
	for _, abortFirst := range []bool{true, false} {
		t.Run(fmt.Sprint("abortFirst=", abortFirst), func(t *testing.T) {
			p := newPool(t, lifeline.WithTimeLimit(300*time.Millisecond), lifeline.WithIgnoreUserAbort(true))
			started, timedOut, done := make(chan struct{}), make(chan struct{}), make(chan lifeline.Status, 1)
			h := handlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rn := mustRun(t, r)
				rn.RegisterShutdown(func(ctx context.Context, rn *lifeline.Run) {
					// E2: the timeout came first, the client leaves while
					// shutdown functions still hold the response open.
					waitFor(5*time.Second, rn.Aborted)
					done <- rn.Status()
				})
				close(started)
				if abortFirst {
					waitFor(5*time.Second, rn.Aborted)
				}
				waitFor(5*time.Second, func() bool { return rn.Status()&lifeline.Timeout != 0 })
				close(timedOut)
				rn.Check()
			})
			c := sendRaw(t, p, h, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			<-started
			if !abortFirst {
				<-timedOut
			}
			c.Close()
			if st := <-done; st != lifeline.Aborted|lifeline.Timeout {
				t.Errorf("final status = %v, want aborted|timeout", st)
			}
		})
	}
}

// TestMisuse: bad input gets a clear error, never a crash.
func TestMisuse(t *testing.T) {
	if _, err := lifeline.NewPool(lifeline.WithTimeLimit(-time.Second)); !errors.Is(err, lifeline.ErrInvalidOption) {
		t.Errorf("negative limit: err = %v, want ErrInvalidOption", err)
	}
	if _, err := lifeline.NewPool(nil); !errors.Is(err, lifeline.ErrInvalidOption) {
		t.Errorf("nil option: err = %v", err)
	}
	p := newPool(t)
	var kept *lifeline.Run
	h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kept = mustRun(t, r)
		if err := kept.Finish(); err != nil {
			t.Errorf("Finish: %v", err)
		}
		if err := kept.Finish(); !errors.Is(err, lifeline.ErrFinished) {
			t.Errorf("second Finish: %v, want ErrFinished", err)
		}
	}))
	serve(h, "GET", "/")
	waitFor(5*time.Second, func() bool { return kept.Phase() == lifeline.PhaseDone })
	// After the run: no crash, clear errors.
	if err := kept.Finish(); !errors.Is(err, lifeline.ErrRunEnded) {
		t.Errorf("Finish after the run: %v, want ErrRunEnded", err)
	}
	kept.SetTimeLimit(time.Second)
	kept.RegisterShutdown(func(context.Context, *lifeline.Run) { t.Error("ran after the run") })
	kept.Check()
	kept.IgnoreUserAbort(true)
	if kept.Status() != lifeline.Normal {
		t.Errorf("Status = %v", kept.Status())
	}
}

// TestIgnoreUserAbortReturnsPrevious ports bug72300.phpt: the call returns the
// previous setting.
func TestIgnoreUserAbortReturnsPrevious(t *testing.T) {
	p := newPool(t)
	var got []bool
	h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn := mustRun(t, r)
		got = append(got, rn.IgnoreUserAbort(true), rn.IgnoresUserAbort(), rn.IgnoreUserAbort(false), rn.IgnoresUserAbort())
		// connection_aborted.phpt, connection_status.phpt: normal while connected.
		if rn.Aborted() || rn.Status() != lifeline.Normal {
			t.Errorf("Status() = %v, want normal", rn.Status())
		}
	}))
	serve(h, "GET", "/")
	if want := []bool{false, true, true, false}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestPoolShutdownWaitsForFinishedRuns: Shutdown waits for runs still
// working after Finish, and cancels the rest with ErrServerShutdown.
func TestPoolShutdownWaitsForFinishedRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, lifeline.WithTimeLimit(0))
		causes := make(chan error, 2)
		h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn := mustRun(t, r)
			rn.Finish()
			d := 2 * time.Second
			if r.URL.Path == "/long" {
				d = time.Hour
			}
			select {
			case <-time.After(d):
				causes <- nil
			case <-r.Context().Done():
				causes <- context.Cause(r.Context())
			}
		}))
		serve(h, "GET", "/short")
		serve(h, "GET", "/long")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := p.Shutdown(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown = %v, want deadline exceeded", err)
		}
		if c := <-causes; c != nil {
			t.Errorf("short run: cause %v, want completion", c)
		}
		if c := <-causes; !errors.Is(c, lifeline.ErrServerShutdown) {
			t.Errorf("long run: cause %v, want ErrServerShutdown", c)
		}
		if rec := serve(h, "GET", "/late"); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("request after Shutdown: %d, want 503", rec.Code)
		}
	})
}
