package output_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/lifeline-go/lifeline/output"
)

// printSink is a tiny Sink that prints what reaches the client side.
type printSink struct{}

func (printSink) WriteHeader(code int, h http.Header) error {
	if cl := h.Get("Content-Length"); cl != "" {
		fmt.Printf("header: %d, Content-Length %s\n", code, cl)
	} else {
		fmt.Printf("header: %d\n", code)
	}
	return nil
}

func (printSink) Write(p []byte) (int, error) {
	fmt.Printf("body: %q\n", p)
	return len(p), nil
}

func (printSink) Flush() error {
	fmt.Println("flush")
	return nil
}

func ExampleNewStack() {
	s := output.NewStack(printSink{})
	// With no buffer started, output goes straight to the client side,
	// and the first byte sends the header.
	fmt.Fprint(s, "hello ")
	fmt.Fprint(s, "world")
	_ = s.EndAll()
	// Output:
	// header: 200
	// body: "hello "
	// body: "world"
}

func ExampleStack_Start() {
	s := output.NewStack(printSink{})
	// ob_start(fn, 4): the handler sees the whole buffer each time it holds
	// at least 4 bytes, and once more at the end.
	upper := output.HandlerFunc(func(buf []byte, phase output.Op) ([]byte, error) {
		return fmt.Appendf(nil, "[%v]%s", phase, bytes.ToUpper(buf)), nil
	})
	_ = s.Start(upper, 4, output.StdFlags)
	fmt.Fprint(s, "ab")
	fmt.Fprint(s, "cd") // 4 bytes: the handler runs
	fmt.Fprint(s, "e")
	_ = s.EndFlush()
	// Output:
	// header: 200
	// body: "[start]ABCD"
	// body: "[final]E"
}

func ExampleStack_Flush() {
	s := output.NewStack(printSink{})
	_ = s.Start(nil, 0, output.StdFlags)
	fmt.Fprint(s, "first")
	_ = s.Flush() // ob_flush: pass the buffer on, keep buffering
	fmt.Fprint(s, "second")
	n, _ := s.Length()
	fmt.Println("buffered:", n)
	_ = s.EndAll()
	// Output:
	// header: 200
	// body: "first"
	// buffered: 6
	// body: "second"
}

func ExampleStack_Clean() {
	s := output.NewStack(printSink{})
	_ = s.Start(nil, 0, output.StdFlags)
	fmt.Fprint(s, "draft")
	_ = s.Clean() // ob_clean: throw the buffer away
	fmt.Fprint(s, "final")
	_ = s.EndAll()
	// Output:
	// header: 200, Content-Length 5
	// body: "final"
}

func ExampleStack_EndFlush() {
	s := output.NewStack(printSink{})
	_ = s.Start(nil, 0, output.StdFlags)
	fmt.Fprint(s, "kept")
	_ = s.EndFlush() // ob_end_flush
	fmt.Println("level:", s.Level())
	err := s.EndFlush()
	fmt.Println(errors.Is(err, output.ErrNoBuffer))
	// Output:
	// header: 200
	// body: "kept"
	// level: 0
	// true
}

func ExampleStack_GetClean() {
	s := output.NewStack(printSink{})
	_ = s.Start(nil, 0, output.StdFlags)
	fmt.Fprint(s, "<b>captured</b>")
	html, err := s.GetClean() // ob_get_clean: capture instead of sending
	fmt.Printf("%q %v level %d\n", html, err, s.Level())

	_ = s.Start(nil, 0, 0) // flags 0: the handler's code cannot remove it
	fmt.Fprint(s, "stuck")
	b, err := s.GetClean()
	fmt.Printf("%q %v\n", b, errors.Is(err, output.ErrNotRemovable))
	_ = s.EndAll() // forced out at the end
	// Output:
	// "<b>captured</b>" <nil> level 0
	// "stuck" true
	// header: 200, Content-Length 5
	// body: "stuck"
}

func ExampleStack_EndAll() {
	s := output.NewStack(printSink{})
	_ = s.Start(nil, 4096, output.StdFlags) // like PHP's output_buffering=4096
	s.Header().Set("Content-Type", "text/plain")
	fmt.Fprint(s, "small body")
	// The whole body is known: Content-Length is exact.
	_ = s.EndAll()
	// Output:
	// header: 200, Content-Length 10
	// body: "small body"
}

func ExampleStack_HeadersSentAt() {
	s := output.NewStack(printSink{})
	fmt.Fprint(s, "x") // sends the header
	file, _, ok := s.HeadersSentAt()
	fmt.Println(filepath.Base(file), ok)

	err := s.WriteHeader(http.StatusNotFound)
	var hse *output.HeadersSentError
	if errors.As(err, &hse) {
		fmt.Println("too late; output started in", filepath.Base(hse.File))
	}
	// Output:
	// header: 200
	// body: "x"
	// example_test.go true
	// too late; output started in example_test.go
}

func ExampleStack_Status() {
	s := output.NewStack(printSink{})
	_ = s.Start(nil, 0, output.StdFlags)
	_ = s.Start(output.HandlerFunc(func([]byte, output.Op) ([]byte, error) {
		return nil, output.ErrDecline
	}), 64, output.Flushable)
	fmt.Fprint(s, "x")
	_ = s.Flush() // the handler declines: disabled, "x" passes to level 0
	for _, st := range s.Status() {
		fmt.Printf("%d %s chunk=%d flags=%#x used=%d started=%v disabled=%v\n",
			st.Level, st.Name, st.ChunkSize, st.Flags, st.Used, st.Started, st.Disabled)
	}
	// Output:
	// 0 default output handler chunk=0 flags=0x70 used=1 started=false disabled=false
	// 1 output.HandlerFunc chunk=64 flags=0x20 used=0 started=true disabled=true
}

func ExampleStack_FlushClient() {
	s := output.NewStack(printSink{})
	_ = s.Start(nil, 0, output.StdFlags)
	fmt.Fprint(s, "still buffered")
	_ = s.FlushClient() // PHP's flush(): header out, buffers untouched
	_ = s.EndAll()
	// Output:
	// header: 200
	// flush
	// body: "still buffered"
}

func ExampleStack_FlushAll() {
	s := output.NewStack(printSink{})
	_ = s.Start(nil, 0, output.StdFlags)
	_ = s.Start(nil, 0, output.StdFlags)
	fmt.Fprint(s, "pushed")
	_ = s.FlushAll() // http.Flusher's meaning: every level, then the client
	// Output:
	// header: 200
	// body: "pushed"
	// flush
}

func ExampleOp_String() {
	fmt.Println(output.OpStart | output.OpFlush)
	fmt.Println(output.OpClean | output.OpFinal)
	// Output:
	// start|flush
	// clean|final
}

func ExampleStack_EndClean() {
	s := output.NewStack(printSink{})
	_ = s.Start(nil, 0, output.StdFlags)
	fmt.Fprint(s, "discarded")
	_ = s.EndClean() // ob_end_clean
	fmt.Println("level:", s.Level(), "sent:", s.HeadersSent())
	// Output:
	// level: 0 sent: false
}

func ExampleStack_GetFlush() {
	s := output.NewStack(printSink{})
	_ = s.Start(nil, 0, output.StdFlags)
	fmt.Fprint(s, "both")
	b, _ := s.GetFlush() // ob_get_flush: a copy, and the bytes go on
	fmt.Printf("got %q\n", b)
	// Output:
	// header: 200
	// body: "both"
	// got "both"
}

func ExampleStack_Contents() {
	s := output.NewStack(printSink{})
	_, ok := s.Contents()
	fmt.Println("buffer:", ok)
	_ = s.Start(nil, 0, output.StdFlags)
	_, _ = s.WriteString("so far")
	b, ok := s.Contents()
	n, _ := s.Length()
	fmt.Printf("%q %v %d level %d\n", b, ok, n, s.Level())
	// Output:
	// buffer: false
	// "so far" true 6 level 1
}

func ExampleStack_WriteHeader() {
	s := output.NewStack(printSink{})
	_ = s.WriteHeader(http.StatusEarlyHints) // 1xx: sent at once
	_ = s.WriteHeader(http.StatusCreated)    // kept until the first byte
	_, _ = s.Write([]byte("made"))
	err := s.WriteHeader(http.StatusConflict)
	fmt.Println(s.StatusCode(), errors.Is(err, output.ErrHeadersSent), s.BytesSent())
	// Output:
	// header: 103
	// header: 201
	// body: "made"
	// 201 true 4
}

func ExampleStack_SetHeader() {
	s := output.NewStack(printSink{})
	fmt.Println(s.SetHeader("X-Request-Id", "42"))
	fmt.Fprint(s, ".")
	err := s.SetHeader("X-Late", "1") // PHP: "Cannot modify header information"
	fmt.Println(errors.Is(err, output.ErrHeadersSent), s.Header().Get("X-Late") == "")
	// Output:
	// <nil>
	// header: 200
	// body: "."
	// true true
}

func ExampleStack_SetImplicitFlush() {
	s := output.NewStack(printSink{})
	s.SetImplicitFlush(true) // ob_implicit_flush: flush after every client write
	fmt.Fprint(s, "tick")
	// Output:
	// header: 200
	// body: "tick"
	// flush
}

func ExampleStack_Reset() {
	s := output.NewStack(printSink{})
	fmt.Fprint(s, "first response")
	_ = s.EndAll()
	s.Reset(printSink{}) // reuse the Stack, as a pool does
	fmt.Println(s.HeadersSent(), s.Level())
	fmt.Fprint(s, "second")
	_ = s.EndAll()
	// Output:
	// header: 200
	// body: "first response"
	// false 0
	// header: 200
	// body: "second"
}

func ExampleStack_SetSink() {
	s := output.NewStack(printSink{})
	_ = s.Start(nil, 0, output.StdFlags)
	fmt.Fprint(s, "answer")
	_ = s.EndAll() // like Run.Finish
	s.SetSink(discard{})
	fmt.Fprint(s, "late output goes nowhere")
	// Output:
	// header: 200, Content-Length 6
	// body: "answer"
}

// discard is a Sink that drops everything.
type discard struct{}

func (discard) WriteHeader(int, http.Header) error { return nil }
func (discard) Write(p []byte) (int, error)        { return len(p), nil }
func (discard) Flush() error                       { return nil }

func ExampleHandlerFunc() {
	s := output.NewStack(printSink{})
	// A handler that wraps the whole response, like a template layout.
	layout := output.HandlerFunc(func(buf []byte, phase output.Op) ([]byte, error) {
		if phase&output.OpFinal == 0 {
			return nil, output.ErrDecline // only whole bodies; otherwise pass through
		}
		return fmt.Appendf(nil, "<main>%s</main>", buf), nil
	})
	_ = s.Start(layout, 0, output.StdFlags)
	fmt.Fprint(s, "content")
	_ = s.EndAll()
	// Output:
	// header: 200, Content-Length 20
	// body: "<main>content</main>"
}
