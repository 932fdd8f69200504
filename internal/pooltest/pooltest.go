// Package pooltest adds to the public test kit, package lifelinetest, what
// only Lifeline's own tests need: a check that none of the run engine's
// goroutines outlives its pool or a package's tests (it names the engine's
// unexported functions, which a user's test cannot know and has no use
// for), and a recover
// middleware that stands in for gorilla's RecoveryHandler in tests that must
// not depend on a framework (the real recoverers are tested in the
// frameworks module). The tests of the root package, idempotency, status
// and the wrapper stacking (module internal/stacktest) share it.
package pooltest

import (
	"fmt"
	"io"
	"net/http"
	"os"
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
	if stacks := Leaked(); stacks != "" {
		t.Errorf("goroutines outlived their runs:\n%s", stacks)
	}
}

// engineFuncs name the functions at the root of the run engine's own
// goroutines: a run's, the detector's, a connection side's.
var engineFuncs = []string{
	"lifeline-go/lifeline.runSide.execute",
	"lifeline-go/lifeline.(*detector).loop",
	"lifeline-go/lifeline.(*route).ServeHTTP",
}

// Leaked returns the stacks of the goroutines of the run engine, and of
// those whose stack names one of also (a package path such as
// "lifeline-go/lifeline/status."), that are still alive after up to 2
// seconds; "" when none is.
func Leaked(also ...string) string {
	var stacks string
	leaked := func() bool {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		stacks = ""
		for _, g := range strings.Split(string(buf), "\n\n") {
			for _, f := range append(engineFuncs, also...) {
				if strings.Contains(g, f) {
					stacks += g + "\n\n"
					break
				}
			}
		}
		return stacks != ""
	}
	if wait.Until(2*time.Second, func() bool { return !leaked() }) {
		return ""
	}
	return stacks
}

// Main runs a package's tests and exits, failing the run when they passed
// but a goroutine of the run engine, or one whose stack names one of also,
// outlives them ([Leaked]): every goroutine has an owner, a stop and a wait.
// A TestMain calls it.
func Main(m *testing.M, also ...string) {
	code := m.Run()
	if code == 0 {
		if stacks := Leaked(also...); stacks != "" {
			fmt.Fprintf(os.Stderr, "goroutines outlived the tests:\n%s", stacks)
			code = 1
		}
	}
	os.Exit(code)
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
