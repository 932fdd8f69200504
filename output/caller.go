package output

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// builtinLibraries are the packages whose frames are always skipped when
// looking for the code that started the output.
var builtinLibraries = []string{
	"github.com/lifeline-go/lifeline/output.",
	"net/http.",
	"runtime.",
	"bufio.",
	"fmt.",
	"io.",
}

// libraries holds the function-name prefixes skipped when looking for the
// code that started the output: builtinLibraries and those added by
// SkipPackage. It is replaced, never changed, so readers need no lock.
var (
	libraries   atomic.Pointer[[]string]
	librariesMu sync.Mutex // serialises SkipPackage
)

// SkipPackage makes [Stack.HeadersSentAt] and [HeadersSentError] look past
// the functions of the package with import path pkgPath, as they look past
// this package, net/http and fmt: a package that writes to a Stack on its
// user's behalf (a middleware, an output handler) calls it once, typically
// from a package-level variable's initialiser, so that "headers already sent
// at" names its user's statement, not the package's. Frames in _test.go files
// are never skipped. It may be called from any goroutine; it is cheap to call
// twice.
func SkipPackage(pkgPath string) {
	prefix := pkgPath + "."
	librariesMu.Lock()
	defer librariesMu.Unlock()
	old := builtinLibraries
	if p := libraries.Load(); p != nil {
		old = *p
	}
	for _, l := range old {
		if l == prefix {
			return
		}
	}
	next := append(append(make([]string, 0, len(old)+1), old...), prefix)
	libraries.Store(&next)
}

// callerFrom returns the file and line of the first frame in pcs outside
// the library packages: the user's statement whose output sent the header.
func callerFrom(pcs []uintptr) (string, int) {
	libs := builtinLibraries
	if p := libraries.Load(); p != nil {
		libs = *p
	}
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if !isLibrary(f, libs) {
			return f.File, f.Line
		}
		if !more {
			return "", 0
		}
	}
}

// firstPCs is how many frames toSink records first: enough to reach the
// handler's statement through the stack's own frames in the usual case,
// fewer than sentPCs, since unwinding costs about the same per frame.
const firstPCs = 9

// hasOwnFrame reports whether one of pcs is in a function outside the
// library packages, by the innermost function at each pc: callerFrom then
// finds its frame among pcs, and recording more frames would not change
// what it returns.
func hasOwnFrame(pcs []uintptr) bool {
	libs := builtinLibraries
	if p := libraries.Load(); p != nil {
		libs = *p
	}
	// From the outermost: the frames nearest the stack's own are the
	// library's, and a caller's frames, when there are several, are
	// mostly the outer ones.
	for i := len(pcs) - 1; i >= 0; i-- {
		f := runtime.FuncForPC(pcs[i] - 1)
		if f == nil {
			continue
		}
		name, own := f.Name(), true
		for _, p := range libs {
			if strings.HasPrefix(name, p) {
				own = false
				break
			}
		}
		if own {
			return true
		}
	}
	return false
}

func isLibrary(f runtime.Frame, libs []string) bool {
	if strings.HasSuffix(f.File, "_test.go") {
		return false
	}
	for _, p := range libs {
		if strings.HasPrefix(f.Function, p) {
			return true
		}
	}
	return false
}
