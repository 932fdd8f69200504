package output

import (
	"runtime"
	"strings"
)

// libraryPrefixes are the packages whose frames are skipped when looking for
// the code that started the output: Lifeline's library packages, net/http and
// the runtime. The reference server and tests count as user code.
var libraryPrefixes = [...]string{
	"github.com/lifeline-go/lifeline.",
	"github.com/lifeline-go/lifeline/output.",
	"github.com/lifeline-go/lifeline/compress.",
	"github.com/lifeline-go/lifeline/session.",
	"github.com/lifeline-go/lifeline/idempotency.",
	"net/http.",
	"runtime.",
	"bufio.",
	"fmt.",
	"io.",
}

// callerFrom returns the file and line of the first frame in pcs outside
// the library packages: the user's statement whose output sent the header.
func callerFrom(pcs []uintptr) (string, int) {
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if !isLibrary(f) {
			return f.File, f.Line
		}
		if !more {
			return "", 0
		}
	}
}

func isLibrary(f runtime.Frame) bool {
	if strings.HasSuffix(f.File, "_test.go") {
		return false
	}
	for _, p := range libraryPrefixes {
		if strings.HasPrefix(f.Function, p) {
			return true
		}
	}
	return false
}
