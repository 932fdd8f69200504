package browsertest

import (
	"context"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/wait"
)

// newPool returns a pool shut down at the end of the test.
func newPool(t testing.TB, opts ...lifeline.Option) *lifeline.Pool {
	t.Helper()
	pool, err := lifeline.NewPool(opts...)
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := pool.Shutdown(ctx); err != nil {
			t.Errorf("pool.Shutdown: %v", err)
		}
	})
	return pool
}

// waitFor polls cond until it holds, failing the test after 10s. It waits
// for events on real sockets and goroutines; it asserts no timing.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	wait.For(t, 10*time.Second, what, cond)
}
