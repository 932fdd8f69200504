package output_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/lifeline-go/lifeline/output"
)

// TestHeadersSentAtDeep checks that HeadersSentAt names the statement
// whose write sent the header however many of the library's frames lie
// between it and the client: the stack first records a few frames, and
// more when none of them is the caller's own (each nested buffer of chunk
// size 1 adds the Stack's frames of one more level).
func TestHeadersSentAtDeep(t *testing.T) {
	for _, levels := range []int{0, 1, 2, 4, 8} {
		for _, viaFmt := range []bool{false, true} {
			t.Run(fmt.Sprintf("levels=%d/fmt=%v", levels, viaFmt), func(t *testing.T) {
				s := output.NewStack(&recSink{})
				for range levels {
					mustOK(t, "Start()", s.Start(nil, 1, output.StdFlags))
				}
				var line int
				var file string
				if viaFmt {
					fmt.Fprint(s, "x")
					_, file, line, _ = runtime.Caller(0)
				} else {
					_, _ = s.Write([]byte("x"))
					_, file, line, _ = runtime.Caller(0)
				}
				line-- // the write is on the line above
				gotFile, gotLine, ok := s.HeadersSentAt()
				if !ok || gotFile != file || gotLine != line {
					t.Errorf("HeadersSentAt() = %s:%d, %v; want %s:%d, true", gotFile, gotLine, ok, file, line)
				}
			})
		}
	}
}
