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
	verdicts.Store(nil) // its verdicts are of the old list
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

// Recording where the header was sent: unwinding costs about the same for
// every frame, so the write that sends the header first records
// firstLook() frames, as many as the deepest caller's own statement was
// found at before (sentDepth), and all of sentPCs (recordSent) only when
// none of those is the caller's own code (ownAt). callerFrom finds the same
// statement either way: it takes the innermost frame outside the
// libraries, and a shorter record that holds one has the same innermost
// one.

// firstLook returns how many frames to record first.
func firstLook() int { return int(sentDepth.Load()) }

// recordSent records in pcs the whole stack of the write that sends the
// header, leaving out skip frames counted from its caller's, raises
// sentDepth to where the caller's own frame is, and returns how many
// entries it filled.
func recordSent(skip int, pcs []uintptr) int {
	skip += 2 // runtime.Callers and recordSent
	n := runtime.Callers(skip, pcs)
	if k := ownAt(pcs[:n]); k >= 0 {
		for {
			old := sentDepth.Load()
			if int32(k+1) <= old || sentDepth.CompareAndSwap(old, int32(k+1)) {
				break
			}
		}
	}
	return n
}

// sentDepth is how many frames the stack records first: the deepest
// index, plus one, at which it found a caller's own frame so far. It starts
// at what a handler's write through Lifeline's writer needs: the Stack's
// process, writeAt and Write, the run's writer, the handler.
var sentDepth atomic.Int32

func init() { sentDepth.Store(5) }

// ownAt returns the index of the first of pcs whose innermost function is
// outside the library packages, or -1. A pc where a library function is
// inlined into the caller's own counts as the library's: the stack then
// looks further, which changes nothing callerFrom returns.
func ownAt(pcs []uintptr) int {
	c := verdicts.Load()
	if c == nil {
		c = newVerdictCache()
	}
	for i, pc := range pcs {
		if c.own(pc) {
			return i
		}
	}
	return -1
}

// verdictCache remembers, for the program counters of recent header
// writes, whether the function at each is the caller's own: looking the
// function up by name costs more than unwinding its frame. It belongs to
// one list of libraries; SkipPackage replaces it.
type verdictCache struct {
	libs    []string
	entries [256]atomic.Uintptr // pc<<1 | own; 0 when empty
}

// verdicts is the cache of the current list of libraries, nil until the
// first header write.
var verdicts atomic.Pointer[verdictCache]

// newVerdictCache installs an empty cache for the current libraries and
// returns it. It holds librariesMu, so that SkipPackage, which drops the
// cache, cannot pass between reading the list and installing its cache.
func newVerdictCache() *verdictCache {
	librariesMu.Lock()
	defer librariesMu.Unlock()
	c := &verdictCache{libs: builtinLibraries}
	if p := libraries.Load(); p != nil {
		c.libs = *p
	}
	verdicts.Store(c)
	return c
}

// own reports whether the innermost function at return address pc is
// outside c's libraries.
func (c *verdictCache) own(pc uintptr) bool {
	e := &c.entries[(pc^pc>>8)%uintptr(len(c.entries))]
	if v := e.Load(); v>>1 == pc {
		return v&1 == 1
	}
	f := runtime.FuncForPC(pc - 1)
	if f == nil {
		return false
	}
	name, own := f.Name(), true
	for _, p := range c.libs {
		if strings.HasPrefix(name, p) {
			own = false
			break
		}
	}
	v := pc << 1
	if own {
		v |= 1
	}
	e.Store(v)
	return own
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
