package browsertest

import (
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/pooltest"
	"github.com/lifeline-go/lifeline/internal/wait"
)

// newPool returns the test kit's pool, shut down when the test ends and
// then checked for leaked goroutines (internal/pooltest).
func newPool(t testing.TB, opts ...lifeline.Option) *lifeline.Pool {
	t.Helper()
	return pooltest.New(t, opts...).Pool
}

// waitFor polls cond until it holds, failing the test after 10s. It waits
// for events on real sockets and goroutines; it asserts no timing.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	wait.For(t, 10*time.Second, what, cond)
}
