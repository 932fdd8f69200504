package output

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"runtime"
	"sync"
	"syscall"
	"testing"
)

// oracleSink works out, when the header goes out, both what HeadersSentAt
// will name (callerFrom over the Stack's record, which the frame-pointer
// walk made on amd64) and what the runtime's unwinder finds from the same
// point: the first frame outside the libraries either way.
type oracleSink struct {
	s          *Stack
	walkFile   string
	walkLine   int
	unwindFile string
	unwindLine int
	sent       chan struct{} // closed when the header went out
}

func newOracle() (*Stack, *oracleSink) {
	o := &oracleSink{sent: make(chan struct{})}
	o.s = NewStack(o)
	return o.s, o
}

func (o *oracleSink) WriteHeader(int, http.Header) error {
	var pcs [128]uintptr
	n := runtime.Callers(2, pcs[:]) // runtime.Callers, WriteHeader
	o.unwindFile, o.unwindLine = callerFrom(pcs[:n])
	o.walkFile, o.walkLine = callerFrom(o.s.sentPCs[:o.s.sentN])
	close(o.sent)
	return nil
}
func (o *oracleSink) Write(p []byte) (int, error) { return len(p), nil }
func (o *oracleSink) Flush() error                { return nil }

// nilLevel is a nil Stack behind an interface, so that calls of its Level
// (a method without a frame of its own) are neither devirtualised nor
// inlined, and fault inside it.
var nilLevel interface{ Level() int } = (*Stack)(nil)

// frameless faults without setting up a frame of its own.
//
//go:noinline
func frameless(p *int) int { return *p }

// huge writes from a frame of more than a megabyte.
//
//go:noinline
func huge(s *Stack) {
	var pad [1 << 20]byte
	pad[len(pad)-1] = 1
	_, _ = s.WriteString("x")
	runtime.KeepAlive(pad[len(pad)-1])
}

// deep writes under n frames of 1 KB each.
//
//go:noinline
func deep(s *Stack, n int) {
	var pad [1 << 10]byte
	pad[n%len(pad)] = byte(n)
	if n == 0 {
		_, _ = s.WriteString("x")
		return
	}
	deep(s, n-1)
	runtime.KeepAlive(pad[n%len(pad)])
}

// genericWrite writes through a generic function's shape instantiation.
func genericWrite[W io.Writer](w W) { _, _ = w.Write([]byte("x")) }

type box struct{ v int }

// advShapes are call shapes that can lie between a program's statement and
// the write that sends its header. Each writes once; the header may go out
// on another goroutine (the oracle's sent channel says when).
var advShapes = []struct {
	name  string
	write func(s *Stack)
}{
	{"direct", func(s *Stack) { _, _ = s.WriteString("x") }},
	{"defer write", func(s *Stack) {
		defer s.WriteString("x")
	}},
	{"defer fmt", func(s *Stack) {
		defer fmt.Fprint(s, "x")
	}},
	{"defer in loop", func(s *Stack) {
		for range 2 {
			defer s.WriteString("") // an empty write sends nothing
		}
		defer s.WriteString("x")
	}},
	{"defer method value", func(s *Stack) {
		bw := bufio.NewWriter(s)
		_, _ = bw.WriteString("x")
		flush := bw.Flush
		defer flush()
	}},
	{"defer while panicking", func(s *Stack) {
		defer func() { _ = recover() }()
		defer s.WriteString("x")
		panic("boom")
	}},
	{"nil dereference in a library leaf", func(s *Stack) {
		bw := bufio.NewWriter(s)
		_, _ = bw.WriteString("x")
		defer func() { _ = recover() }()
		defer bw.Flush()
		nilLevel.Level()
	}},
	{"nil dereference in an own leaf", func(s *Stack) {
		defer func() { _ = recover() }()
		defer s.WriteString("x")
		frameless(nil)
	}},
	{"nil func", func(s *Stack) {
		defer func() { _ = recover() }()
		defer s.WriteString("x")
		var f func()
		f()
	}},
	{"panic at depth", func(s *Stack) {
		defer func() { _ = recover() }()
		func() {
			defer func() {
				defer func() {
					_ = recover()
					_, _ = s.WriteString("x")
				}()
				panic("again")
			}()
			panic("boom")
		}()
	}},
	{"Goexit", func(s *Stack) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer s.WriteString("x")
			runtime.Goexit()
		}()
		<-done
	}},
	{"go statement", func(s *Stack) {
		go s.WriteString("x")
		<-s.sink.(*oracleSink).sent
	}},
	{"go fmt", func(s *Stack) {
		go fmt.Fprint(s, "x")
		<-s.sink.(*oracleSink).sent
	}},
	{"inlined library call", func(s *Stack) { flushInlined(s) }},
	{"method expression", func(s *Stack) { _, _ = (*Stack).WriteString(s, "x") }},
	{"generic", func(s *Stack) { genericWrite(s) }},
	{"reflect.MakeFunc", func(s *Stack) {
		var f func(string) (int, error)
		fv := reflect.MakeFunc(reflect.TypeOf(f), func(in []reflect.Value) []reflect.Value {
			return reflect.ValueOf(s.WriteString).Call(in)
		})
		reflect.ValueOf(&f).Elem().Set(fv)
		_, _ = f("x")
	}},
	{"library depth 12", func(s *Stack) {
		for range 12 {
			_ = s.Start(nil, 1, StdFlags)
		}
		_, _ = s.WriteString("x")
	}},
	{"huge frame", func(s *Stack) { huge(s) }},
	{"deep 2000", func(s *Stack) { deep(s, 2000) }},
	{"after shrink", func(s *Stack) {
		other, _ := newOracle()
		deep(other, 4000) // grow the stack to megabytes
		runtime.GC()
		runtime.GC() // the stack shrinks at a collection
		deep(s, 3)
	}},
	{"locked thread", func(s *Stack) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		_, _ = s.WriteString("x")
	}},
	{"finalizer", func(s *Stack) {
		b := &box{1}
		runtime.SetFinalizer(b, func(*box) { _, _ = s.WriteString("x") })
		b = nil
		o := s.sink.(*oracleSink)
		for {
			runtime.GC()
			select {
			case <-o.sent:
				return
			default:
			}
		}
	}},
	{"signal", func(s *Stack) {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGUSR1)
		defer signal.Stop(c)
		go func() {
			<-c
			_, _ = s.WriteString("x")
		}()
		if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
			panic(err)
		}
		<-s.sink.(*oracleSink).sent
	}},
}

// TestHeadersSentAtMatchesUnwinder checks that, in every call shape,
// HeadersSentAt names what the runtime's unwinder finds at the write that
// sent the header: the frame-pointer walk must not name another statement
// (the build with the purego tag, and other architectures, name the
// unwinder's).
func TestHeadersSentAtMatchesUnwinder(t *testing.T) {
	for _, tt := range advShapes {
		for _, onGoroutine := range []bool{false, true} {
			name := tt.name
			if onGoroutine {
				name += "/goroutine"
			}
			t.Run(name, func(t *testing.T) {
				s, o := newOracle()
				if onGoroutine {
					var wg sync.WaitGroup
					wg.Go(func() { tt.write(s) })
					wg.Wait()
				} else {
					tt.write(s)
				}
				<-o.sent
				if o.walkFile != o.unwindFile || o.walkLine != o.unwindLine {
					t.Errorf("HeadersSentAt would name %s:%d; the unwinder names %s:%d",
						o.walkFile, o.walkLine, o.unwindFile, o.unwindLine)
				}
			})
		}
	}
}

// flushInlined sends the header with FlushClient, which the compiler
// inlines here: the return address into this function is one of the
// inlined FlushClient's, and this function's frame is its caller's.
//
//go:noinline
func flushInlined(s *Stack) { _ = s.FlushClient() }

// TestWalkTrustsInlinedLibraryCall checks that the walk is kept when the
// caller's own frame is found only as the caller of a library function
// inlined into it (FlushClient is, PHP's flush() that sends the header):
// a verdict that looks at the innermost function alone takes that return
// address for the library's, finds no frame of the caller's own when
// nothing but library frames lie further out (net/http's, a go
// statement's wrapper), and pays for the walk, then the unwinder twice.
func TestWalkTrustsInlinedLibraryCall(t *testing.T) {
	s, o := newOracle()
	go flushInlined(s)
	<-o.sent
	entry := reflect.ValueOf(flushInlined).Pointer()
	c := &verdictCache{libs: builtinLibraries}
	found := false
	for _, pc := range s.sentPCs[:s.sentN] {
		if f := runtime.FuncForPC(pc - 1); f == nil || f.Entry() != entry {
			continue
		}
		found = true
		if v := c.verdict(pc); v != verdictOwn {
			t.Errorf("verdict(return address in flushInlined) = %d; want %d (own)", v, verdictOwn)
		}
	}
	if !found {
		t.Fatalf("the record %x has no return address in flushInlined", s.sentPCs[:s.sentN])
	}
	if k, trusted := ownAt(s.sentPCs[:s.sentN]); k < 0 || !trusted {
		t.Errorf("ownAt(record) = %d, %v; want flushInlined's frame, trusted", k, trusted)
	}
	if !fpWalk {
		return
	}
	if name := runtime.FuncForPC(s.sentPCs[0] - 1).Name(); name != "github.com/lifeline-go/lifeline/output.(*Stack).toSink" {
		t.Errorf("the record starts in %s; want (*Stack).toSink: the walk was not kept", name)
	}
}

func TestIsCallWrapper(t *testing.T) {
	tests := []struct {
		fn   string
		want bool
	}{
		{"example.com/p.F.deferwrap1", true},
		{"example.com/p.F.func2.deferwrap12", true},
		{"example.com/p.(*T).M.gowrap3", true},
		{"testing.(*T).Run.gowrap1", true},
		{"example.com/p.deferwrap1", false}, // a function of that name
		{"example.com/p.F.deferwrap", false},
		{"example.com/p.F.func1", false},
		{"example.com/p.F", false},
		{"deferwrap1", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isCallWrapper(tt.fn); got != tt.want {
			t.Errorf("isCallWrapper(%q) = %v; want %v", tt.fn, got, tt.want)
		}
	}
}
