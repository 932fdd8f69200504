package reliability

import (
	"bytes"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

// goroutines returns the number of goroutines now.
func goroutines() int { return runtime.NumGoroutine() }

// settleGoroutines waits up to d for the number of goroutines to fall back
// to baseline. It returns how many are left above it and, if any, their
// stacks.
func settleGoroutines(baseline int, d time.Duration) (left int, stacks string) {
	deadline := time.Now().Add(d)
	for {
		n := runtime.NumGoroutine()
		if n <= baseline {
			return 0, ""
		}
		if time.Now().After(deadline) {
			var b bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
			return n - baseline, tail(b.String(), 6000)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func getenv(name string) string { return os.Getenv(name) }

// discardLogger returns a logger that drops everything.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
