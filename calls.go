package lifeline

import (
	"errors"
	"net/http"
	"runtime"
	"strings"

	"github.com/lifeline-go/lifeline/output"
)

// Headers-sent locations name the code that wrote, not this package.
func init() { output.SkipPackage("github.com/lifeline-go/lifeline") }

// copyHeader replaces dst's fields with src's. It runs on the run side,
// under the exchange's lock, as the header goes out; the run side's map is
// not touched by anyone else meanwhile, so no copy of it is kept.
func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}

// markPanicked records a real panic of the run's code (not a termination).
func (rn *Run) markPanicked() {
	rn.mu.Lock()
	rn.panicked = true
	rn.mu.Unlock()
	rn.pool.stats.panics.Add(1)
}

// stack returns the current goroutine's stack, for logs. It is never
// inlined: its 16 KiB buffer would otherwise grow the stack of every run
// whose deferred recover merely checks for a panic.
//
//go:noinline
func stack() string {
	buf := make([]byte, 16<<10)
	return string(buf[:runtime.Stack(buf, false)])
}

func isErr(v any, target error) bool {
	err, ok := v.(error)
	return ok && errors.Is(err, target)
}

// safeCall runs fn, recovering and logging a panic. It reports whether fn
// returned normally. ErrTerminated from a shutdown function ends it quietly.
func (rn *Run) safeCall(what string, fn func()) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			ok = false
			if v == ErrTerminated && rn.terminated.Load() {
				return
			}
			rn.conf().log().Error("lifeline: panic in "+what, "run", rn.id, "panic", v, "stack", stack())
		}
	}()
	fn()
	return true
}

// callerOf returns the first caller outside this package, for logs.
func callerOf() (string, int) {
	var pcs [16]uintptr
	n := runtime.Callers(3, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "github.com/lifeline-go/lifeline.") || strings.HasSuffix(f.File, "_test.go") {
			return f.File, f.Line
		}
		if !more {
			return "", 0
		}
	}
}
