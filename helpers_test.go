package lifeline_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/pooltest"
	"github.com/lifeline-go/lifeline/internal/wait"
	"github.com/lifeline-go/lifeline/lifelinetest"
)

// newPool returns the test kit's pool (lifelinetest.NewPool), shut down when
// the test ends and then checked for leaked goroutines.
func newPool(t testing.TB, opts ...lifeline.Option) *lifelinetest.Pool {
	t.Helper()
	return pooltest.New(t, opts...)
}

// waitFor polls cond for up to d (internal/wait) and reports whether it held.
func waitFor(d time.Duration, cond func() bool) bool { return wait.Until(d, cond) }

// handlerFunc is shorthand.
type handlerFunc = http.HandlerFunc

// mustRun returns the run of r or fails.
func mustRun(t testing.TB, r *http.Request) *lifeline.Run {
	rn, ok := lifeline.FromContext(r.Context())
	if !ok {
		t.Error("FromContext: no run")
		panic(http.ErrAbortHandler)
	}
	return rn
}

func timeNowPlusMinute() time.Time { return time.Now().Add(time.Minute) }

// runOf returns r's run.
func runOf(r *http.Request) *lifeline.Run {
	rn, ok := lifeline.FromContext(r.Context())
	if !ok {
		panic("no run")
	}
	return rn
}
