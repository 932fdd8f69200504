package lifeline_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
)

// TestMiddlewareSetupErrors: a bad option or a nil handler is reported once,
// while the routes are set up, with an error that errors.Is can test; never
// per request, never as text sent to a client.
func TestMiddlewareSetupErrors(t *testing.T) {
	p := newPool(t)
	tests := []struct {
		name    string
		set     func()
		want    error
		message string
	}{
		{"nil option", func() { p.Middleware(lifeline.WithRoute("a"), nil) }, lifeline.ErrInvalidOption, "opts[1] is nil"},
		{"negative time limit", func() { p.Middleware(lifeline.WithTimeLimit(-time.Second)) }, lifeline.ErrInvalidOption, "WithTimeLimit(-1s)"},
		{"pool option on a route", func() { p.Middleware(lifeline.WithMaxActive(3)) }, lifeline.ErrInvalidOption, "WithMaxActive applies to the pool"},
		{"nil handler", func() { p.Middleware()(nil) }, lifeline.ErrNilHandler, "nil handler"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := setupPanic(tt.set)
			if !errors.Is(err, tt.want) || !strings.Contains(fmt.Sprint(err), tt.message) {
				t.Errorf("panic = %v, want an error matching %v that says %q", err, tt.want, tt.message)
			}
		})
	}
	if _, err := lifeline.NewPool(lifeline.WithRoute("a"), nil); !errors.Is(err, lifeline.ErrInvalidOption) || !strings.Contains(err.Error(), "opts[1] is nil") {
		t.Errorf("NewPool(nil option) = %v, want ErrInvalidOption naming opts[1]", err)
	}
}

// setupPanic calls set and returns the error it panicked with, or nil.
func setupPanic(set func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			var ok bool
			if err, ok = v.(error); !ok {
				err = fmt.Errorf("panic %v (not an error)", v)
			}
		}
	}()
	set()
	return nil
}

// TestMiddlewareNested: a Middleware inside a run (of the same pool or of
// another) adjusts that run and never starts a second one.
func TestMiddlewareNested(t *testing.T) {
	type seen struct {
		route     string
		limit     time.Duration
		ignores   bool
		levels    int
		chunkSize int
		sameRun   bool
	}
	tests := []struct {
		name  string
		inner []lifeline.Option
		other bool // the inner middleware is another pool's
		want  seen
	}{
		{"same pool, no options", nil, false, seen{"outer", 30 * time.Second, false, 1, 4096, true}},
		{"same pool, route options", []lifeline.Option{lifeline.WithRoute("inner"), lifeline.WithTimeLimit(time.Minute),
			lifeline.WithIgnoreUserAbort(true), lifeline.WithOutputBuffering(8192)}, false, seen{"inner", time.Minute, true, 1, 8192, true}},
		{"same pool, no base buffer", []lifeline.Option{lifeline.WithOutputBuffering(0)}, false, seen{"outer", 30 * time.Second, false, 0, 0, true}},
		{"other pool, its defaults are not applied", nil, true, seen{"outer", 30 * time.Second, false, 1, 4096, true}},
		{"other pool, route options", []lifeline.Option{lifeline.WithTimeLimit(0), lifeline.WithRoute("b")}, true, seen{"b", 0, false, 1, 4096, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outer := newPool(t)
			other := newPool(t, lifeline.WithTimeLimit(time.Hour), lifeline.WithOutputBuffering(100))
			innerPool := outer
			if tt.other {
				innerPool = other
			}
			var got seen
			var outerRun *lifeline.Run
			h := innerPool.Middleware(tt.inner...)(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rn := mustRun(t, r)
				got.sameRun = rn == outerRun
				got.limit, _ = rn.TimeLimit()
				got.ignores = rn.IgnoresUserAbort()
				got.levels = rn.Output().Level()
				if st := rn.Output().Status(); len(st) > 0 {
					got.chunkSize = st[0].ChunkSize
				}
				fmt.Fprint(w, "ok")
			}))
			mark := handlerFunc(func(w http.ResponseWriter, r *http.Request) {
				outerRun = mustRun(t, r)
				h.ServeHTTP(w, r)
			})
			rec := serve(outer.Middleware(lifeline.WithRoute("outer"))(mark), "GET", "/")
			if rec.Code != http.StatusOK || rec.Body.String() != "ok" {
				t.Fatalf("answer %d %q, want 200 ok", rec.Code, rec.Body)
			}
			waitFor(5*time.Second, func() bool { return len(outer.Recent()) == 1 })
			recent := outer.Recent()
			if len(recent) != 1 {
				t.Fatalf("outer pool ended %d runs, want 1", len(recent))
			}
			got.route = recent[0].Route
			if got != tt.want {
				t.Errorf("inner handler saw %+v, want %+v", got, tt.want)
			}
			if n := outer.Stats().Accepted + other.Stats().Accepted; n != 1 {
				t.Errorf("runs started = %d, want 1", n)
			}
		})
	}
}

// TestMiddlewareNestedTimeLimit: a route's time limit set by a nested
// Middleware is counted from the start of the run and ends it.
func TestMiddlewareNestedTimeLimit(t *testing.T) {
	p := newPool(t, lifeline.WithTimeLimit(time.Hour))
	cause := make(chan error, 1)
	inner := p.Middleware(lifeline.WithTimeLimit(20 * time.Millisecond))(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		cause <- context.Cause(r.Context())
		rn := mustRun(t, r)
		rn.Check() // terminated here
		t.Error("Check did not terminate the run")
	}))
	rec := serve(p.Middleware()(inner), "GET", "/")
	if err := <-cause; !errors.Is(err, lifeline.ErrTimeLimit) {
		t.Errorf("context cause = %v, want ErrTimeLimit", err)
	}
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("code = %d, want 503", rec.Code)
	}
	waitFor(5*time.Second, func() bool { return len(p.Recent()) == 1 })
	if r := p.Recent(); len(r) != 1 || r[0].Status != lifeline.Timeout {
		t.Errorf("records = %+v, want one with status timeout", r)
	}
}
