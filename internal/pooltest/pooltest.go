// Package pooltest holds the test set-up that the root package's tests and the
// wrapper-stacking tests (module internal/stacktest) share: a pool that is shut
// down and checked for leaked goroutines when the test ends, a recover
// middleware like gorilla's, and a wait for a pool to have no active run.
package pooltest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/wait"
)

// New returns a pool with a silent logger and opts, shut down and checked for
// leaked goroutines ([CheckNoLeaks]) when the test ends.
func New(t testing.TB, opts ...lifeline.Option) *lifeline.Pool {
	t.Helper()
	return NewN(t, 1, opts...)[0]
}

// NewN returns n pools like [New], for a test of several instances: the leak
// check runs once, after all of them have shut down (one pool's goroutines
// are alive while another is checked otherwise).
func NewN(t testing.TB, n int, opts ...lifeline.Option) []*lifeline.Pool {
	t.Helper()
	opts = append([]lifeline.Option{lifeline.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	pools := make([]*lifeline.Pool, 0, n)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, p := range pools {
			if err := p.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		}
		CheckNoLeaks(t)
	})
	for range n {
		p, err := lifeline.NewPool(opts...)
		if err != nil {
			t.Fatalf("NewPool: %v", err)
		}
		pools = append(pools, p)
	}
	return pools
}

// CheckNoLeaks fails the test if a goroutine of the run engine is still alive
// a moment after the pool shut down (net/http's afterTest idea).
func CheckNoLeaks(t testing.TB) {
	t.Helper()
	var stacks string
	leaked := func() bool {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		stacks = ""
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "lifeline-go/lifeline.runSide.execute") ||
				strings.Contains(g, "lifeline-go/lifeline.(*detector).loop") ||
				strings.Contains(g, "lifeline-go/lifeline.(*route).ServeHTTP") {
				stacks += g + "\n\n"
			}
		}
		return stacks != ""
	}
	if !wait.Until(2*time.Second, func() bool { return !leaked() }) {
		t.Errorf("goroutines outlived their runs:\n%s", stacks)
	}
}

// WaitIdle fails the test unless p has no active run within d.
func WaitIdle(t testing.TB, p *lifeline.Pool, d time.Duration) {
	t.Helper()
	if !wait.Until(d, func() bool { return len(p.Active()) == 0 }) {
		t.Fatalf("after %v, %d runs still active: %+v", d, len(p.Active()), p.Active())
	}
}

// Swallow is a recover middleware that swallows every panic and answers 500,
// like gorilla's RecoveryHandler; the real frameworks' recoverers are tested
// in the frameworks module.
func Swallow(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if recover() != nil {
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, "recovered")
			}
		}()
		next.ServeHTTP(w, r)
	})
}
