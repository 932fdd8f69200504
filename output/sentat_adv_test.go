package output_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/lifeline-go/lifeline/internal/testenv"
	"github.com/lifeline-go/lifeline/output"
)

// cgoMain is a program whose C code calls back into Go, on the thread of a
// Go call into C and on a thread C created, and the callback's write sends
// the header: the frame-pointer walk starts on a goroutine stack entered
// from C (a thread of C's gets a goroutine of its own for the callback).
const cgoMain = `package main

/*
extern void viaC(int);
extern void viaThread(int);
*/
import "C"

import (
	"fmt"
	"net/http"
	"os"
	"runtime"

	"github.com/lifeline-go/lifeline/output"
)

type nopSink struct{}

func (nopSink) WriteHeader(int, http.Header) error { return nil }
func (nopSink) Write(p []byte) (int, error)       { return len(p), nil }
func (nopSink) Flush() error                      { return nil }

var (
	stacks [2]*output.Stack
	lines  [2]int
)

//export goWrite
func goWrite(i C.int) {
	_, _ = stacks[i].WriteString("x")
	_, _, lines[i], _ = runtime.Caller(0)
}

func main() {
	for i := range stacks {
		stacks[i] = output.NewStack(nopSink{})
	}
	C.viaC(0)
	C.viaThread(1)
	_, self, _, _ := runtime.Caller(0)
	bad := false
	for i, s := range stacks {
		file, line, ok := s.HeadersSentAt()
		if !ok || file != self || line != lines[i]-1 {
			fmt.Printf("callback %d: HeadersSentAt() = %s:%d, %v; want %s:%d\n", i, file, line, ok, self, lines[i]-1)
			bad = true
		}
	}
	if bad {
		os.Exit(1)
	}
	fmt.Println("ok")
}
`

// cgoC holds the C side (a file that exports Go functions may only declare
// C ones).
const cgoC = `package main

/*
#cgo LDFLAGS: -lpthread
#include <pthread.h>
extern void goWrite(int);
void viaC(int i) { goWrite(i); }
static void* run(void* p) { goWrite((int)(long)p); return 0; }
void viaThread(int i) {
	pthread_t t;
	pthread_create(&t, 0, run, (void*)(long)i);
	pthread_join(t, 0);
}
*/
import "C"
`

// TestHeadersSentAtFromCgoCallback checks that a write from Go code called
// by C, on a Go thread and on one C created, neither crashes the walk nor
// names anything but the callback's statement, with the walk and with the
// unwinder (purego). cgo cannot be used in a test file, so it builds and
// runs a small program with this module's output package.
func TestHeadersSentAtFromCgoCallback(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a cgo program; -short leaves it out")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command to build a cgo program")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		testenv.Missing(t, testenv.Cgo, "gcc builds the cgo program")
	}
	if out, err := exec.Command(goTool, "env", "CGO_ENABLED").Output(); err != nil || strings.TrimSpace(string(out)) != "1" {
		testenv.Missing(t, testenv.Cgo, "go env CGO_ENABLED is not 1")
	}
	dir := t.TempDir()
	files := []string{filepath.Join(dir, "main.go"), filepath.Join(dir, "c.go")}
	for i, src := range []string{cgoMain, cgoC} {
		if err := os.WriteFile(files[i], []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tags := range []string{"", "purego"} {
		t.Run("tags="+tags, func(t *testing.T) {
			// Run from this package's directory: the named files build
			// against this module.
			cmd := exec.CommandContext(t.Context(), goTool, append([]string{"run", "-tags=" + tags}, files...)...)
			out, err := cmd.CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "ok" {
				t.Fatalf("go run: %v\n%s", err, out)
			}
		})
	}
}

// TestHeadersSentAtConcurrentShapes sends headers from many goroutines at
// once, each through another shape (nested buffers of chunk size 1, fmt,
// FlushClient inlined into the writer, a method value), while the list of
// skipped packages grows: every answer must name its own statement,
// whatever verdict cache it met.
func TestHeadersSentAtConcurrentShapes(t *testing.T) {
	shapes := []func(s *output.Stack) int{
		func(s *output.Stack) int {
			for range 2 {
				if err := s.Start(nil, 1, output.StdFlags); err != nil {
					t.Errorf("Start() = %v", err) // not Fatal: off the test's goroutine
				}
			}
			_, _ = s.WriteString("x")
			_, _, line, _ := runtime.Caller(0)
			return line - 1
		},
		func(s *output.Stack) int {
			fmt.Fprint(s, "x")
			_, _, line, _ := runtime.Caller(0)
			return line - 1
		},
		func(s *output.Stack) int {
			_ = s.FlushClient()
			_, _, line, _ := runtime.Caller(0)
			return line - 1
		},
		func(s *output.Stack) int {
			write := s.Write
			_, _ = write([]byte("x"))
			_, _, line, _ := runtime.Caller(0)
			return line - 1
		},
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 100 {
			output.SkipPackage(fmt.Sprintf("example.com/concurrent%d", i))
		}
	})
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				s := output.NewStack(&countSink{})
				line := shapes[(g+i)%len(shapes)](s)
				file, got, ok := s.HeadersSentAt()
				if !ok || filepath.Base(file) != "sentat_adv_test.go" || got != line {
					t.Errorf("shape %d: HeadersSentAt() = %s:%d, %v; want sentat_adv_test.go:%d, true",
						(g+i)%len(shapes), file, got, ok, line)
					return
				}
			}
		})
	}
	wg.Wait()
}
