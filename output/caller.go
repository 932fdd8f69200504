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
	"reflect.",
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
// this package and the standard library's net/http, bufio, fmt, io and
// reflect: a package that writes to a Stack on its
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

// Recording where the header was sent. On amd64 the write that sends the
// header walks the frame pointers (fpCallers): a few instructions a frame,
// where the runtime's unwinder costs hundreds. The walk is kept when every
// frame up to the caller's own is a function the runtime knows; otherwise,
// and on other architectures, the unwinder records firstLook() frames, as
// many as the deepest caller's own statement was found at before
// (sentDepth), and all of sentPCs (recordSent) only when none of those is
// the caller's own code (ownAt). callerFrom finds the same statement
// whichever recorded it: it takes the innermost frame outside the
// libraries, and every record holds that frame.

// recordSender records in pcs the stack of the write that sends the
// header, from its caller's caller (the Stack's method that called toSink)
// outwards, and returns how many entries it filled.
//
//go:noinline
func recordSender(pcs []uintptr) int {
	if n := fpCallers(pcs); n > 0 {
		if k, trusted := ownAt(pcs[:n]); trusted && k >= 0 {
			return n
		}
	}
	d := firstLook()
	n := runtime.Callers(3, pcs[:d]) // runtime.Callers, recordSender, toSink
	if k, _ := ownAt(pcs[:n]); n == d && k < 0 {
		n = recordSent(2, pcs)
	}
	return n
}

// firstLook returns how many frames the unwinder records first.
func firstLook() int { return int(sentDepth.Load()) }

// recordSent records in pcs the whole stack of the write that sends the
// header, leaving out skip frames counted from its caller's, raises
// sentDepth to where the caller's own frame is, and returns how many
// entries it filled.
func recordSent(skip int, pcs []uintptr) int {
	skip += 2 // runtime.Callers and recordSent
	n := runtime.Callers(skip, pcs)
	if k, _ := ownAt(pcs[:n]); k >= 0 {
		for {
			old := sentDepth.Load()
			if int32(k+1) <= old || sentDepth.CompareAndSwap(old, int32(k+1)) {
				break
			}
		}
	}
	return n
}

// sentDepth is how many frames the unwinder records first: the deepest
// index, plus one, at which it found a caller's own frame so far. It starts
// at what a handler's write through Lifeline's writer needs: the Stack's
// process, writeAt and Write, the run's writer, the handler.
var sentDepth atomic.Int32

func init() { sentDepth.Store(5) }

// ownAt returns the index of the first of pcs at which a frame of the
// caller's own code (outside the library packages) is, or -1. A pc where
// library functions are inlined into the caller's own holds the caller's
// frame too. trusted is false when a pc before that index belongs to no
// function the runtime knows: a frame-pointer walk that met one may have
// followed a frame pointer that was not one, or where a fault entered
// runtime.sigpanic: the walk may have missed the caller of the function
// that faulted.
func ownAt(pcs []uintptr) (k int, trusted bool) {
	c := verdicts.Load()
	if c == nil {
		c = newVerdictCache()
	}
	for i, pc := range pcs {
		switch c.verdict(pc) {
		case verdictOwn:
			return i, true
		case verdictUnknown:
			return -1, false
		}
	}
	return -1, true
}

// What a return address holds, as the verdict cache keeps it.
const (
	verdictLibrary = 1 // only functions of the library packages
	verdictOwn     = 2 // a frame of the caller's own code
	verdictUnknown = 3 // no function the runtime knows, or sigpanic's
)

// verdictCache remembers, for the program counters of recent header
// writes, what each holds: looking the function up by name costs more than
// unwinding its frame. It belongs to one list of libraries; SkipPackage
// replaces it.
type verdictCache struct {
	libs    []string
	entries [256]atomic.Uintptr // pc<<2 | verdict; 0 when empty
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

// verdict returns what the frame at return address pc holds.
func (c *verdictCache) verdict(pc uintptr) uintptr {
	e := &c.entries[(pc^pc>>8)%uintptr(len(c.entries))]
	if v := e.Load(); v>>2 == pc && v != 0 {
		return v & 3
	}
	v := uintptr(verdictUnknown)
	if runtime.FuncForPC(pc-1) != nil {
		v = verdictLibrary
		// The second entry makes CallersFrames expand the functions
		// inlined at pc into the function they are inlined in (it does
		// not for a list's last entry); that function's frame, the only
		// one with Func set, is pc's last.
		frames := runtime.CallersFrames([]uintptr{pc, 0})
		for {
			f, more := frames.Next()
			if f.Function == "runtime.sigpanic" {
				// A fault made it look as if the faulting function
				// called sigpanic. A function without a frame of its
				// own saved no frame pointer, so the walk goes from
				// it straight to its caller's caller.
				v = verdictUnknown
				break
			}
			if !isLibrary(f, c.libs) {
				v = verdictOwn
				break
			}
			if !more || f.Func != nil {
				break
			}
		}
	}
	e.Store(pc<<2 | v)
	return v
}

func isLibrary(f runtime.Frame, libs []string) bool {
	if f.File == "<autogenerated>" || isCallWrapper(f.Function) {
		return true // a wrapper the compiler made: never the statement
	}
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

// isCallWrapper reports whether fn names the closure the compiler makes for
// a go or defer statement whose call has arguments or results (F.gowrap1,
// F.func2.deferwrap1). Its frame holds no statement of its own, and the
// runtime's unwinder leaves it out, naming the function that ran the
// deferred call (at its return) instead; the frame-pointer walk records it,
// and must name the same statement.
func isCallWrapper(fn string) bool {
	i := strings.LastIndexByte(fn, '.')
	if i < 0 {
		return false
	}
	last := fn[i+1:]
	name := strings.TrimRight(last, "0123456789")
	if len(name) == len(last) || name != "deferwrap" && name != "gowrap" {
		return false
	}
	// Wrappers are nested in a function: pkg.F.deferwrap1, not pkg.deferwrap1.
	return strings.LastIndexByte(fn[:i], '.') > strings.LastIndexByte(fn, '/')
}
