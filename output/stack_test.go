package output_test

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeline-go/lifeline/output"
)

// TestWriteNeverSplit checks PHP-SEMANTICS §5.1 step 3: the handler runs
// after the whole write is appended, so one write larger than the chunk size
// reaches the handler in one piece.
func TestWriteNeverSplit(t *testing.T) {
	tests := []struct {
		name   string
		chunk  int
		writes []string
		want   []call // including the final call of EndFlush
	}{
		{"one big write", 4, []string{"0123456789"}, []call{{1, "0123456789"}, {8, ""}}},
		{"fill then overflow", 4, []string{"01", "23456789"}, []call{{1, "0123456789"}, {8, ""}}},
		{"exact chunk", 5, []string{"01234", "56789"}, []call{{1, "01234"}, {0, "56789"}, {8, ""}}},
		{"below chunk", 100, []string{"0123456789"}, []call{{9, "0123456789"}}},
		{"string and bytes", 3, []string{"ab", "cd"}, []call{{1, "abcd"}, {8, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &recSink{}
			s := output.NewStack(sink)
			var calls []call
			mustStart(t, s, recorder(&calls, func(b []byte, _ output.Op) ([]byte, error) { return b, nil }), tt.chunk, output.StdFlags)
			for i, w := range tt.writes {
				if i%2 == 0 {
					mustWrite(t, s, w)
				} else if n, err := s.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			mustOK(t, "EndFlush()", s.EndFlush())
			if fmt.Sprint(calls) != fmt.Sprint(tt.want) {
				t.Errorf("handler calls = %v, want %v", calls, tt.want)
			}
			if got, want := sink.body(), strings.Join(tt.writes, ""); got != want {
				t.Errorf("client body = %q, want %q", got, want)
			}
		})
	}
}

// TestZeroLengthWrite checks PHP-SEMANTICS §5.1: an empty write never runs a
// handler, even with chunk size 1, and with no buffer it does not send the
// header (php_output_op only calls php_output_header for real bytes).
func TestZeroLengthWrite(t *testing.T) {
	t.Run("buffered", func(t *testing.T) {
		sink := &recSink{}
		s := output.NewStack(sink)
		var calls []call
		mustStart(t, s, recorder(&calls, func(b []byte, _ output.Op) ([]byte, error) { return b, nil }), 1, output.StdFlags)
		for range 3 {
			if n, err := s.Write(nil); n != 0 || err != nil {
				t.Fatalf("Write(nil) = %d, %v; want 0, nil", n, err)
			}
			if n, err := s.WriteString(""); n != 0 || err != nil {
				t.Fatalf(`WriteString("") = %d, %v; want 0, nil`, n, err)
			}
		}
		if len(calls) != 0 {
			t.Errorf("handler calls = %v, want none", calls)
		}
	})
	t.Run("unbuffered", func(t *testing.T) {
		sink := &recSink{}
		s := output.NewStack(sink)
		s.SetImplicitFlush(true)
		if n, err := s.Write([]byte{}); n != 0 || err != nil {
			t.Fatalf("Write([]byte{}) = %d, %v; want 0, nil", n, err)
		}
		if n, err := s.WriteString(""); n != 0 || err != nil {
			t.Fatalf(`WriteString("") = %d, %v; want 0, nil`, n, err)
		}
		if s.HeadersSent() || len(sink.events) != 0 {
			t.Errorf("HeadersSent() = %v, client got %q; want false, nothing", s.HeadersSent(), sink.trace())
		}
		mustOK(t, "SetHeader()", s.SetHeader("X-Late", "ok"))
	})
	t.Run("disabled top", func(t *testing.T) {
		sink := &recSink{}
		s := output.NewStack(sink)
		mustStart(t, s, output.HandlerFunc(func([]byte, output.Op) ([]byte, error) {
			return nil, output.ErrDecline
		}), 0, output.StdFlags)
		mustOK(t, "Flush()", s.Flush()) // disables it; nothing to pass on
		if n, err := s.WriteString(""); n != 0 || err != nil {
			t.Fatalf(`WriteString("") = %d, %v; want 0, nil`, n, err)
		}
		if s.HeadersSent() {
			t.Errorf("HeadersSent() = true after empty writes, want false")
		}
	})
}

// TestEndAllFinalCall checks PHP-SEMANTICS §5.2: at the end every buffer gets
// a final call even when empty, and may still emit output ("<>", verified on
// PHP 8.2). Flags do not matter: unerasable buffers are forced out too.
func TestEndAllFinalCall(t *testing.T) {
	angle := func(b []byte, _ output.Op) ([]byte, error) { return fmt.Appendf(nil, "<%s>", b), nil }
	tests := []struct {
		name  string
		flags []output.Flags
		write string
		want  string
	}{
		{"one empty", []output.Flags{output.StdFlags}, "", "<>"},
		{"two empty", []output.Flags{output.StdFlags, output.StdFlags}, "", "<<>>"},
		{"unerasable", []output.Flags{0, 0}, "", "<<>>"},
		{"with data", []output.Flags{output.StdFlags, 0}, "x", "<<x>>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &recSink{}
			s := output.NewStack(sink)
			var calls []call
			for _, f := range tt.flags {
				mustStart(t, s, recorder(&calls, angle), 0, f)
			}
			mustWrite(t, s, tt.write)
			mustOK(t, "EndAll()", s.EndAll())
			wantLevel(t, s, 0)
			if len(calls) != len(tt.flags) {
				t.Errorf("handler calls = %v, want %d", calls, len(tt.flags))
			}
			for _, c := range calls {
				if c.phase != output.OpStart|output.OpFinal {
					t.Errorf("phase = %v, want start|final", c.phase)
				}
			}
			want := fmt.Sprintf(`H200 cl=%d W%q`, len(tt.want), tt.want)
			if got := sink.trace(); got != want {
				t.Errorf("client saw %s, want %s", got, want)
			}
		})
	}
}

// TestHandlerReusesMemory checks the Handler contract: the returned bytes are
// passed down before the handler is called again, so a handler may reuse
// its result buffer.
func TestHandlerReusesMemory(t *testing.T) {
	sink := &recSink{}
	s := output.NewStack(sink)
	mustStart(t, s, nil, 0, output.StdFlags) // collects everything until EndAll
	var scratch []byte
	mustStart(t, s, output.HandlerFunc(func(b []byte, _ output.Op) ([]byte, error) {
		scratch = append(scratch[:0], bytes.ToUpper(b)...)
		return scratch, nil
	}), 2, output.StdFlags)
	for _, w := range []string{"ab", "cd", "ef"} {
		mustWrite(t, s, w)
	}
	mustOK(t, "EndAll()", s.EndAll())
	if got := sink.body(); got != "ABCDEF" {
		t.Errorf("client body = %q, want %q", got, "ABCDEF")
	}
}

// TestDisabledMiddleBypassed checks php_output_stack_apply_op: a disabled
// buffer in the middle of the stack passes what comes from above straight to
// the buffer below it.
func TestDisabledMiddleBypassed(t *testing.T) {
	sink := &recSink{}
	s := output.NewStack(sink)
	var bottom []call
	mustStart(t, s, recorder(&bottom, func(b []byte, _ output.Op) ([]byte, error) { return b, nil }), 0, output.StdFlags)
	mustStart(t, s, output.HandlerFunc(func(b []byte, _ output.Op) ([]byte, error) {
		return nil, output.ErrDecline
	}), 0, output.StdFlags)
	mustWrite(t, s, "raw,")
	mustOK(t, "Flush()", s.Flush()) // declines: "raw," passes to the bottom
	mustStart(t, s, output.HandlerFunc(func(b []byte, _ output.Op) ([]byte, error) {
		return bytes.ToUpper(b), nil
	}), 1, output.StdFlags)
	mustWrite(t, s, "top")
	wantLevel(t, s, 3)
	mustOK(t, "EndFlush()", s.EndFlush())
	mustWrite(t, s, ",late") // the top is now the disabled buffer
	mustOK(t, "EndAll()", s.EndAll())
	if got := sink.body(); got != "raw,TOP,late" {
		t.Errorf("client body = %q, want %q", got, "raw,TOP,late")
	}
	if len(bottom) != 1 || bottom[0].in != "raw,TOP,late" {
		t.Errorf("bottom handler calls = %v, want one with everything", bottom)
	}
}

// TestPhaseString checks the names of the phase bits.
func TestPhaseString(t *testing.T) {
	tests := []struct {
		p    output.Op
		want string
	}{
		{output.OpWrite, "write"},
		{output.OpStart, "start"},
		{output.OpStart | output.OpFlush, "start|flush"},
		{output.OpClean | output.OpFinal, "clean|final"},
		{output.OpStart | output.OpClean | output.OpFlush | output.OpFinal, "start|clean|flush|final"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("Op(%d).String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

// TestResetReuse checks that a reset Stack starts afresh: no buffers, no
// header, nothing sent, and memory of an earlier response does not leak
// into the next one.
func TestResetReuse(t *testing.T) {
	first := &recSink{}
	s := output.NewStack(first)
	mustStart(t, s, nil, 0, output.StdFlags)
	mustStart(t, s, nil, 0, output.StdFlags)
	mustWrite(t, s, "secret")
	mustOK(t, "SetHeader()", s.SetHeader("X-Old", "1"))
	mustOK(t, "WriteHeader(404)", s.WriteHeader(404))
	mustOK(t, "FlushClient()", s.FlushClient())

	second := &recSink{}
	s.Reset(second)
	wantLevel(t, s, 0)
	if s.HeadersSent() || s.StatusCode() != 0 || s.BytesSent() != 0 || len(s.Header()) != 0 {
		t.Fatalf("after Reset: sent %v, code %d, bytes %d, header %v; want a fresh stack",
			s.HeadersSent(), s.StatusCode(), s.BytesSent(), s.Header())
	}
	mustStart(t, s, nil, 0, output.StdFlags)
	wantContents(t, s, "")
	mustWrite(t, s, "new")
	mustOK(t, "EndAll()", s.EndAll())
	if got := second.trace(); got != `H200 cl=3 W"new"` {
		t.Errorf("second response = %s, want H200 cl=3 W\"new\"", got)
	}
	if s.BytesSent() != 3 {
		t.Errorf("BytesSent() = %d, want 3", s.BytesSent())
	}
}

// TestHandlerPanic checks that a handler that panics (and whose panic the
// caller recovers, as the run engine does) is treated like PHP's throwing
// callback: it is disabled, its buffer passes through raw at the end, and
// the Stack stays usable instead of refusing everything with ErrInHandler.
func TestHandlerPanic(t *testing.T) {
	sink := &recSink{}
	s := output.NewStack(sink)
	calls := 0
	mustStart(t, s, output.HandlerFunc(func([]byte, output.Op) ([]byte, error) {
		calls++
		panic("handler bug")
	}), 4, output.StdFlags)
	func() {
		defer func() {
			if r := recover(); r != "handler bug" {
				t.Fatalf("recover() = %v, want the handler's panic", r)
			}
		}()
		_, _ = s.WriteString("boom") // reaches the chunk size
	}()
	wantLevel(t, s, 1)
	st := s.Status()
	if !st[0].Disabled {
		t.Errorf("Status() = %+v, want the panicking handler disabled", st)
	}
	mustWrite(t, s, ", after") // bypasses the disabled handler
	mustOK(t, "Start()", s.Start(nil, 0, output.StdFlags))
	mustOK(t, "EndFlush()", s.EndFlush())
	mustOK(t, "EndAll()", s.EndAll())
	if calls != 1 {
		t.Errorf("handler called %d times, want 1", calls)
	}
	// As in PHP, the failed handler's raw buffer goes out before later output.
	if got, want := sink.body(), "boom, after"; got != want {
		t.Errorf("client body = %q, want %q", got, want)
	}
}

// TestHandlerPanicCascade checks a panic in a lower handler while it takes
// output from the level above: the upper level must not keep (and later
// repeat) bytes it has already passed down.
func TestHandlerPanicCascade(t *testing.T) {
	sink := &recSink{}
	s := output.NewStack(sink)
	mustStart(t, s, output.HandlerFunc(func([]byte, output.Op) ([]byte, error) {
		panic("lower")
	}), 1, output.StdFlags)
	var upper []call
	mustStart(t, s, recorder(&upper, func(b []byte, _ output.Op) ([]byte, error) { return b, nil }), 2, output.StdFlags)
	func() {
		defer func() { _ = recover() }()
		_, _ = s.WriteString("ab")
	}()
	wantContents(t, s, "")
	mustWrite(t, s, "c")
	mustOK(t, "EndAll()", s.EndAll())
	if got, want := sink.body(), "abc"; got != want {
		t.Errorf("client body = %q, want %q", got, want)
	}
	if len(upper) != 2 || upper[0].in != "ab" || upper[1].in != "c" {
		t.Errorf("upper handler calls = %v, want ab then c", upper)
	}
}

// TestStartBase: the base buffer is the bottom one and says so in Status.
func TestStartBase(t *testing.T) {
	s := output.NewStack(nil)
	if err := s.StartBase(4096); err != nil {
		t.Fatalf("StartBase = %v", err)
	}
	if err := s.Start(nil, 0, output.StdFlags); err != nil {
		t.Fatalf("Start = %v", err)
	}
	st := s.Status()
	if len(st) != 2 || !st[0].Base || st[1].Base || st[0].ChunkSize != 4096 || st[0].Flags != output.StdFlags {
		t.Errorf("Status() = %+v, want a base level of 4096 under a plain one", st)
	}
	if err := s.StartBase(10); !errors.Is(err, output.ErrBaseLevel) {
		t.Errorf("second StartBase = %v, want ErrBaseLevel", err)
	}
}

// TestSkipPackage: a package that writes on its user's behalf registers
// itself, and "headers already sent at" then names the user's line.
func TestSkipPackage(t *testing.T) {
	sentAt := func() string {
		s := output.NewStack(&countSink{})
		strings.NewReader("x").WriteTo(s) // the write happens in package strings
		file, _, _ := s.HeadersSentAt()
		return filepath.Base(file)
	}
	if got := sentAt(); got != "reader.go" {
		t.Fatalf("before SkipPackage: sent at %s, want strings' reader.go", got)
	}
	output.SkipPackage("strings")
	output.SkipPackage("strings") // twice is harmless
	if got := sentAt(); got != "stack_test.go" {
		t.Errorf("after SkipPackage: sent at %s, want stack_test.go", got)
	}
}
