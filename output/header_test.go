package output_test

import (
	"errors"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/lifeline-go/lifeline/output"
)

// wantSentAt checks that err is a *HeadersSentError naming file:line.
func wantSentAt(t *testing.T, what string, err error, file string, line int) {
	t.Helper()
	if !errors.Is(err, output.ErrHeadersSent) {
		t.Fatalf("%s = %v, want ErrHeadersSent", what, err)
	}
	var hse *output.HeadersSentError
	if !errors.As(err, &hse) {
		t.Fatalf("%s = %T, want *output.HeadersSentError", what, err)
	}
	if hse.File != file || hse.Line != line {
		t.Errorf("%s names %s:%d, want %s:%d", what, hse.File, hse.Line, file, line)
	}
	if file != "" && !strings.Contains(err.Error(), "output started at "+file+":"+strconv.Itoa(line)) {
		t.Errorf("%s message %q does not name %s:%d", what, err, file, line)
	}
}

// TestFirstByteSendsHeader checks PHP-SEMANTICS §5.4: the header goes out
// with the first byte that reaches the client (status 200 unless set), and
// WriteHeader or SetHeader afterwards fail with a *HeadersSentError naming
// the statement that sent it.
func TestFirstByteSendsHeader(t *testing.T) {
	sink := &recSink{}
	s := output.NewStack(sink)
	s.Header().Set("X-Early", "yes")
	if s.HeadersSent() {
		t.Fatal("HeadersSent() = true before any output")
	}
	if _, _, ok := s.HeadersSentAt(); ok {
		t.Fatal("HeadersSentAt() ok before any output")
	}
	_, _ = s.WriteString("hello")
	_, file, line, _ := runtime.Caller(0)
	line-- // the write is on the line above

	hs := sink.headers()
	if len(hs) != 1 || hs[0].code != 200 || hs[0].header.Get("X-Early") != "yes" || hs[0].hasCL {
		t.Fatalf("client saw %s, want one 200 header with X-Early and no Content-Length", sink.trace())
	}
	if s.StatusCode() != 200 {
		t.Errorf("StatusCode() = %d, want 200", s.StatusCode())
	}
	gotFile, gotLine, ok := s.HeadersSentAt()
	if !ok || gotFile != file || gotLine != line {
		t.Errorf("HeadersSentAt() = %s:%d, %v; want %s:%d, true", gotFile, gotLine, ok, file, line)
	}
	wantSentAt(t, "WriteHeader(404)", s.WriteHeader(404), file, line)
	wantSentAt(t, "SetHeader()", s.SetHeader("X-Late", "no"), file, line)
	wantSentAt(t, "WriteHeader(103)", s.WriteHeader(103), file, line)
	if s.StatusCode() != 200 {
		t.Errorf("StatusCode() after a late WriteHeader = %d, want 200", s.StatusCode())
	}
	mustOK(t, "EndAll()", s.EndAll())
	if got, want := sink.trace(), `H200 W"hello"`; got != want {
		t.Errorf("client saw %s, want %s", got, want)
	}
}

// TestHeaderSentByOverflow checks that with a chunked buffer the recorded
// position is the write that overflowed it (PHP with output_buffering=4096,
// verified), and with Flush, the Flush.
func TestHeaderSentByOverflow(t *testing.T) {
	t.Run("overflow", func(t *testing.T) {
		s := output.NewStack(&recSink{})
		mustStart(t, s, nil, 8, output.StdFlags)
		_, _ = s.WriteString("1234")
		if s.HeadersSent() {
			t.Fatal("HeadersSent() = true while buffered")
		}
		_, _ = s.Write([]byte("5678"))
		_, file, line, _ := runtime.Caller(0)
		wantSentAt(t, "WriteHeader(500)", s.WriteHeader(500), file, line-1)
	})
	t.Run("flush", func(t *testing.T) {
		s := output.NewStack(&recSink{})
		mustStart(t, s, nil, 0, output.StdFlags)
		_, _ = s.WriteString("1234")
		_ = s.Flush()
		_, file, line, _ := runtime.Caller(0)
		wantSentAt(t, "WriteHeader(500)", s.WriteHeader(500), file, line-1)
	})
}

// TestWriteHeaderCodes checks status handling before the header is sent:
// 1xx codes go to the client at once and do not become the status, the
// first final code is kept, and codes outside 100-999 are refused.
func TestWriteHeaderCodes(t *testing.T) {
	sink := &recSink{}
	s := output.NewStack(sink)
	mustOK(t, "WriteHeader(100)", s.WriteHeader(100))
	mustOK(t, "WriteHeader(103)", s.WriteHeader(103))
	if s.HeadersSent() || s.StatusCode() != 0 {
		t.Errorf("after 1xx: HeadersSent() = %v, StatusCode() = %d; want false, 0", s.HeadersSent(), s.StatusCode())
	}
	for _, code := range []int{0, 99, 1000, -200} {
		var ce *output.CodeError
		if err := s.WriteHeader(code); !errors.As(err, &ce) || ce.Code != code {
			t.Errorf("WriteHeader(%d) = %v, want *CodeError{%d}", code, err, code)
		} else if want := "output: invalid status code " + strconv.Itoa(code); err.Error() != want {
			t.Errorf("WriteHeader(%d) error = %q, want %q", code, err, want)
		}
	}
	mustOK(t, "WriteHeader(201)", s.WriteHeader(201))
	mustOK(t, "WriteHeader(202)", s.WriteHeader(202)) // superfluous, as in net/http
	if s.StatusCode() != 201 {
		t.Errorf("StatusCode() = %d, want 201", s.StatusCode())
	}
	mustWrite(t, s, "x")
	if got, want := sink.trace(), `H100 H103 H201 W"x"`; got != want {
		t.Errorf("client saw %s, want %s", got, want)
	}
}

// TestEndAllContentLength checks that EndAll sets Content-Length to the exact
// body length when the header has not been sent, for any size, and not when
// the status forbids a body, the body is chunked or trailers are declared, or
// the header already went out.
func TestEndAllContentLength(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name   string
		chunk  int // of the base buffer; -1 for none
		size   int
		code   int
		header map[string]string
		wantCL string // "" for none
	}{
		{name: "10 bytes", chunk: 0, size: 10, wantCL: "10"},
		{name: "1 MiB", chunk: 0, size: mib, wantCL: "1048576"},
		{name: "1 MiB under a 2 MiB chunk", chunk: 2 * mib, size: mib, wantCL: "1048576"},
		{name: "empty", chunk: 0, size: 0, wantCL: "0"},
		{name: "no buffer, no output", chunk: -1, size: 0, wantCL: "0"},
		{name: "404", chunk: 0, size: 10, code: 404, wantCL: "10"},
		{name: "204", chunk: 0, size: 0, code: 204},
		{name: "304", chunk: 0, size: 0, code: 304},
		{name: "transfer-encoding", chunk: 0, size: 10, header: map[string]string{"Transfer-Encoding": "chunked"}},
		{name: "trailer", chunk: 0, size: 10, header: map[string]string{"Trailer": "X-Sum"}},
		{name: "trailer prefix", chunk: 0, size: 10, header: map[string]string{http.TrailerPrefix + "X-Sum": "1"}},
		{name: "user Content-Length replaced", chunk: 0, size: 10, header: map[string]string{"Content-Length": "999"}, wantCL: "10"},
		{name: "1 MiB overflows 4096 chunk", chunk: 4096, size: mib},
		{name: "1 MiB unbuffered", chunk: -1, size: mib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &recSink{}
			s := output.NewStack(sink)
			if tt.chunk >= 0 {
				mustStart(t, s, nil, tt.chunk, output.StdFlags)
			}
			for k, v := range tt.header {
				mustOK(t, "SetHeader()", s.SetHeader(k, v))
			}
			if tt.code != 0 {
				mustOK(t, "WriteHeader()", s.WriteHeader(tt.code))
			}
			body := strings.Repeat("0123456789abcdef", tt.size/16+1)[:tt.size]
			for i := 0; i < len(body); i += 1000 {
				mustWrite(t, s, body[i:min(i+1000, len(body))])
			}
			mustOK(t, "EndAll()", s.EndAll())
			hs := sink.headers()
			if len(hs) != 1 {
				t.Fatalf("client got %d headers, want 1", len(hs))
			}
			if got := hs[0].cl; got != tt.wantCL || hs[0].hasCL != (tt.wantCL != "") {
				t.Errorf("Content-Length = %q (present %v), want %q", got, hs[0].hasCL, tt.wantCL)
			}
			if want := max(tt.code, 200); hs[0].code != want {
				t.Errorf("status = %d, want %d", hs[0].code, want)
			}
			if got := sink.body(); got != body {
				t.Errorf("client body has %d bytes, want %d", len(got), len(body))
			}
			if s.BytesSent() != int64(len(body)) {
				t.Errorf("BytesSent() = %d, want %d", s.BytesSent(), len(body))
			}
			wantLevel(t, s, 0)
			if file, line, ok := s.HeadersSentAt(); !ok || (tt.wantCL != "" && (file != "" || line != 0)) {
				t.Errorf("HeadersSentAt() = %q, %d, %v; want sent (by Lifeline when Content-Length is set)", file, line, ok)
			}
		})
	}
}

// TestEndAllHeaderSentByHandler checks that a handler's final call may still
// change the header (as a compressor sets Content-Encoding), because EndAll
// sends it only after every buffer has been flushed.
func TestEndAllHeaderSentByHandler(t *testing.T) {
	sink := &recSink{}
	s := output.NewStack(sink)
	mustStart(t, s, output.HandlerFunc(func(b []byte, p output.Op) ([]byte, error) {
		if p&output.OpFinal != 0 {
			if err := s.SetHeader("X-Final", p.String()); err != nil {
				return nil, err
			}
		}
		return b, nil
	}), 0, output.StdFlags)
	mustWrite(t, s, "body")
	mustOK(t, "EndAll()", s.EndAll())
	hs := sink.headers()
	if len(hs) != 1 || hs[0].header.Get("X-Final") != "start|final" || hs[0].cl != "4" {
		t.Errorf("client saw %s with header %v, want X-Final: start|final and Content-Length 4", sink.trace(), hs)
	}
	wantSentAt(t, "WriteHeader(500)", s.WriteHeader(500), "", 0)
	if err := s.WriteHeader(500); err.Error() != output.ErrHeadersSent.Error() {
		t.Errorf("error without position = %q, want %q", err, output.ErrHeadersSent)
	}
}

// TestFlushClient checks PHP's flush(): the header goes out with no body,
// buffers are not touched, and the client side is flushed. Unlike PHP,
// which records no output position for flush(), Lifeline names the
// FlushClient call.
func TestFlushClient(t *testing.T) {
	sink := &recSink{}
	s := output.NewStack(sink)
	mustStart(t, s, nil, 0, output.StdFlags)
	mustWrite(t, s, "kept")
	_ = s.FlushClient()
	_, file, line, _ := runtime.Caller(0)
	if got, want := sink.trace(), "H200 F"; got != want {
		t.Errorf("client saw %s, want %s", got, want)
	}
	wantContents(t, s, "kept")
	wantSentAt(t, "WriteHeader(404)", s.WriteHeader(404), file, line-1)
	mustOK(t, "FlushClient()", s.FlushClient())
	mustOK(t, "EndAll()", s.EndAll())
	if got, want := sink.trace(), `H200 F F W"kept"`; got != want {
		t.Errorf("client saw %s, want %s (no Content-Length once sent)", got, want)
	}
}

// TestFlushAll checks that FlushAll pushes every level down, top first, with
// OpFlush, then flushes the client side; and that it stops at a buffer
// that cannot be flushed.
func TestFlushAll(t *testing.T) {
	sink := &recSink{}
	s := output.NewStack(sink)
	var calls []call
	tag := func(name string) output.HandlerFunc {
		return recorder(&calls, func(b []byte, p output.Op) ([]byte, error) {
			return append([]byte(name+"("+p.String()+")"), b...), nil
		})
	}
	mustStart(t, s, tag("a"), 0, output.StdFlags)
	mustStart(t, s, tag("b"), 0, output.StdFlags)
	mustStart(t, s, tag("c"), 0, output.StdFlags)
	mustWrite(t, s, "x")
	mustOK(t, "FlushAll()", s.FlushAll())
	want := `H200 W"a(start|flush)b(start|flush)c(start|flush)x" F`
	if got := sink.trace(); got != want {
		t.Errorf("client saw %s, want %s", got, want)
	}
	wantLevel(t, s, 3)
	for i, c := range calls {
		if c.phase != output.OpStart|output.OpFlush {
			t.Errorf("call %d phase = %v, want start|flush", i, c.phase)
		}
	}
	mustOK(t, "FlushAll()", s.FlushAll()) // empty buffers: handlers still run
	if got, want := sink.body(), "a(start|flush)b(start|flush)c(start|flush)xa(flush)b(flush)c(flush)"; got != want {
		t.Errorf("client body = %q, want %q", got, want)
	}

	t.Run("not flushable", func(t *testing.T) {
		sink := &recSink{}
		s := output.NewStack(sink)
		mustStart(t, s, nil, 0, output.StdFlags)
		mustStart(t, s, nil, 0, output.Cleanable|output.Removable)
		mustStart(t, s, nil, 0, output.StdFlags)
		mustWrite(t, s, "x")
		err := s.FlushAll()
		wantErr(t, "FlushAll()", err, output.ErrNotFlushable)
		if err != nil && !strings.Contains(err.Error(), "(level 1)") {
			t.Errorf("FlushAll() = %q, want level 1 named", err)
		}
		wantContents(t, s, "")
		mustOK(t, "EndFlush()", s.EndFlush())
		wantContents(t, s, "x")
		if len(sink.events) != 0 {
			t.Errorf("client saw %s, want nothing", sink.trace())
		}
	})
}

// TestImplicitFlush checks that with implicit flush on, every write that
// reaches the client is followed by a flush.
func TestImplicitFlush(t *testing.T) {
	sink := &recSink{}
	s := output.NewStack(sink)
	s.SetImplicitFlush(true)
	mustWrite(t, s, "a")
	mustStart(t, s, nil, 2, output.StdFlags)
	mustWrite(t, s, "b")
	mustWrite(t, s, "c")
	s.SetImplicitFlush(false)
	mustOK(t, "EndFlush()", s.EndFlush())
	mustWrite(t, s, "d")
	if got, want := sink.trace(), `H200 W"a" F W"bc" F W"d"`; got != want {
		t.Errorf("client saw %s, want %s", got, want)
	}
}

// errSink fails every call with err.
type errSink struct{ err error }

func (e errSink) WriteHeader(int, http.Header) error { return e.err }
func (e errSink) Write([]byte) (int, error)          { return 0, e.err }
func (e errSink) Flush() error                       { return e.err }

// TestSinkErrors checks that the client side's errors come back from the
// operation that reached it.
func TestSinkErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		op   func(s *output.Stack) error
	}{
		{"Write", func(s *output.Stack) error { _, err := s.WriteString("x"); return err }},
		{"FlushClient", (*output.Stack).FlushClient},
		{"FlushAll", (*output.Stack).FlushAll},
		{"EndAll", (*output.Stack).EndAll},
		{"EndFlush", func(s *output.Stack) error {
			_ = s.Start(nil, 0, output.StdFlags)
			_, _ = s.WriteString("x")
			return s.EndFlush()
		}},
		{"1xx", func(s *output.Stack) error { return s.WriteHeader(103) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := output.NewStack(errSink{boom})
			wantErr(t, tt.name, tt.op(s), boom)
		})
	}
	t.Run("SetSink", func(t *testing.T) {
		s := output.NewStack(errSink{boom})
		sink := &recSink{}
		s.SetSink(sink)
		mustWrite(t, s, "ok")
		if got := sink.trace(); got != `H200 W"ok"` {
			t.Errorf("client saw %s after SetSink", got)
		}
	})
}

// TestDiscardAll: every buffer is dropped through its handler with
// clean|final and the status code is forgotten, so an error page can replace
// the response (PHP's php_output_discard_all); once the header went out the
// response can no longer be replaced.
func TestDiscardAll(t *testing.T) {
	sink := &discardRecorder{}
	s := output.NewStack(sink)
	var phases []output.Op
	s.Start(output.HandlerFunc(func(b []byte, p output.Op) ([]byte, error) {
		phases = append(phases, p)
		return b, nil
	}), 0, 0) // not even removable: DiscardAll is forced
	s.WriteHeader(http.StatusCreated)
	s.Write([]byte("the page being built"))
	if err := s.DiscardAll(); err != nil {
		t.Fatalf("DiscardAll: %v", err)
	}
	if s.Level() != 0 || s.StatusCode() != 0 || len(phases) != 1 || phases[0] != output.OpStart|output.OpClean|output.OpFinal {
		t.Errorf("after DiscardAll: level %d, code %d, handler phases %v", s.Level(), s.StatusCode(), phases)
	}
	s.WriteHeader(http.StatusServiceUnavailable)
	s.Write([]byte("error"))
	s.EndAll()
	if sink.code != http.StatusServiceUnavailable || sink.body != "error" {
		t.Errorf("sent %d %q, want 503 \"error\"", sink.code, sink.body)
	}
	if err := s.DiscardAll(); !errors.Is(err, output.ErrHeadersSent) {
		t.Errorf("DiscardAll after the header went out: %v, want ErrHeadersSent", err)
	}
}

type discardRecorder struct {
	code int
	body string
}

func (r *discardRecorder) WriteHeader(code int, _ http.Header) error { r.code = code; return nil }
func (r *discardRecorder) Write(p []byte) (int, error)               { r.body += string(p); return len(p), nil }
func (r *discardRecorder) Flush() error                              { return nil }
