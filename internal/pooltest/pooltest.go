// Package pooltest adds to the public test kit, package lifelinetest, what
// only Lifeline's own tests need: a check that none of the run engine's
// goroutines outlives its pool (it names the engine's unexported functions,
// which a user's test cannot know and has no use for), and a recover
// middleware that stands in for gorilla's RecoveryHandler in tests that must
// not depend on a framework (the real recoverers are tested in the
// frameworks module). The root package's tests, the idempotency tests and
// the wrapper-stacking tests (module internal/stacktest) share it.
package pooltest

import (
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/wait"
	"github.com/lifeline-go/lifeline/lifelinetest"
)

// New returns the test kit's pool ([lifelinetest.NewPool]) with opts, shut
// down when the test ends and then checked for leaked goroutines
// ([CheckNoLeaks]).
func New(t testing.TB, opts ...lifeline.Option) *lifelinetest.Pool {
	t.Helper()
	return NewN(t, 1, opts...)[0]
}

// NewN returns n pools like [New], for a test of several instances: the leak
// check runs once, after all of them have shut down (one pool's goroutines
// are alive while another is checked otherwise).
func NewN(t testing.TB, n int, opts ...lifeline.Option) []*lifelinetest.Pool {
	t.Helper()
	// Cleanups run last-registered first: this one, registered before the
	// kit's, runs after every pool has shut down.
	t.Cleanup(func() { CheckNoLeaks(t) })
	pools := make([]*lifelinetest.Pool, n)
	for i := range pools {
		pools[i] = lifelinetest.NewPool(t, opts...)
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

// Swallow is a recover middleware that swallows every panic and answers 500,
// like gorilla's RecoveryHandler.
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
