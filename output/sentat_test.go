package output_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"sync"
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

// writeAt writes "x" to a fresh stack through levels nested buffers of chunk
// size 1, from a statement of this file, and returns the stack and that
// statement's line.
func writeAt(t *testing.T, levels int) (*output.Stack, int) {
	t.Helper()
	s := output.NewStack(&countSink{})
	for range levels {
		if err := s.Start(nil, 1, output.StdFlags); err != nil {
			t.Errorf("Start() = %v", err)
		}
	}
	_, _ = s.Write([]byte("x"))
	_, _, line, _ := runtime.Caller(0)
	return s, line - 1
}

// TestHeadersSentAtConcurrent checks that HeadersSentAt names the writing
// statement when stacks of different depths send their headers at once, in
// any order (deep ones first make the stack look at more frames at once,
// shallow ones then find the statement among them), while the list of
// skipped packages changes.
func TestHeadersSentAtConcurrent(t *testing.T) {
	depths := []int{8, 0, 3, 1, 6, 2}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 20 {
			output.SkipPackage(fmt.Sprintf("example.com/unused%d", i))
		}
	})
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				levels := depths[(g+i)%len(depths)]
				s, line := writeAt(t, levels)
				file, got, ok := s.HeadersSentAt()
				if !ok || filepath.Base(file) != "sentat_test.go" || got != line {
					t.Errorf("levels=%d: HeadersSentAt() = %s:%d, %v; want sentat_test.go:%d, true",
						levels, file, got, ok, line)
					return
				}
			}
		})
	}
	wg.Wait()
}

// embedded promotes the Stack's Write: a call of it goes through a wrapper
// the compiler generates in this package.
type embedded struct{ *output.Stack }

// viaWrapper writes through a method value, whose wrapper the compiler also
// generates here.
func viaWrapper(write func([]byte) (int, error)) (int, error) { return write([]byte("x")) }

// TestHeadersSentAtThroughWrappers checks that HeadersSentAt names the
// statement, not a compiler-generated wrapper of the caller's package that
// lies between it and the Stack (a promoted method, a method value), nor
// the trampolines of reflect.Value.Call.
func TestHeadersSentAtThroughWrappers(t *testing.T) {
	tests := []struct {
		name  string
		write func(s *output.Stack) int // writes "x" and returns the statement's line
	}{
		{"promoted method", func(s *output.Stack) int {
			e := embedded{s}
			_, _ = e.Write([]byte("x"))
			_, _, line, _ := runtime.Caller(0)
			return line - 1
		}},
		{"method value", func(s *output.Stack) int {
			_, _ = viaWrapper(s.Write)
			_, _, line, _ := runtime.Caller(0)
			return viaWrapperLine(t, line-1)
		}},
		{"reflect", func(s *output.Stack) int {
			reflect.ValueOf(s.Write).Call([]reflect.Value{reflect.ValueOf([]byte("x"))})
			_, _, line, _ := runtime.Caller(0)
			return line - 1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := output.NewStack(&countSink{})
			line := tt.write(s)
			file, got, ok := s.HeadersSentAt()
			if !ok || filepath.Base(file) != "sentat_test.go" || got != line {
				t.Errorf("HeadersSentAt() = %s:%d, %v; want sentat_test.go:%d, true", file, got, ok, line)
			}
		})
	}
}

// viaWrapperLine is the line of viaWrapper's call of write, the innermost
// statement of this file on the way to the Stack.
func viaWrapperLine(t *testing.T, _ int) int {
	t.Helper()
	pc := reflect.ValueOf(viaWrapper).Pointer()
	_, line := runtime.FuncForPC(pc).FileLine(pc)
	return line
}
