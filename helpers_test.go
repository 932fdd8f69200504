package lifeline_test

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
)

// newPool returns a pool that is shut down, and checked for leaked
// goroutines, when the test ends.
func newPool(t testing.TB, opts ...lifeline.Option) *lifeline.Pool {
	t.Helper()
	opts = append([]lifeline.Option{lifeline.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	p, err := lifeline.NewPool(opts...)
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		checkNoLeaks(t)
	})
	return p
}

// checkNoLeaks fails the test if a goroutine of the run engine is still alive
// a moment after the pool shut down (net/http's afterTest idea).
func checkNoLeaks(t testing.TB) {
	t.Helper()
	var stacks string
	for i := 0; i < 200; i++ {
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
		if stacks == "" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("goroutines outlived their runs:\n%s", stacks)
}

// waitFor polls cond every millisecond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return cond()
}

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
