package browsertest

import (
	"context"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
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
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}
