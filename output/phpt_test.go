package output_test

// Ports of php-src's tests/output/*.phpt (PHP-SEMANTICS.md §10 items 22-37).
// PHP reports misuse with notices written into the active buffer and with
// false returns; Lifeline returns errors instead and writes nothing, so the
// ports assert the error and the unchanged buffer rather than notice text.

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lifeline-go/lifeline/output"
)

// TestOB017Phases ports tests/output/ob_017.phpt: the phase bits a chunk-3
// handler sees across writes, flush, clean and end-clean, and what reaches
// the client.
func TestOB017Phases(t *testing.T) {
	sink := &recSink{}
	s := output.NewStack(sink)
	var calls []call
	mustStart(t, s, recorder(&calls, func(b []byte, _ output.Op) ([]byte, error) { return b, nil }), 3, output.StdFlags)

	mustWrite(t, s, "yes")
	mustWrite(t, s, "!\n")
	mustOK(t, "Flush()", s.Flush())
	mustWrite(t, s, "no")
	mustOK(t, "Clean()", s.Clean())
	mustWrite(t, s, "yes!\n")
	mustWrite(t, s, "no")
	mustOK(t, "EndClean()", s.EndClean())

	want := []call{{1, "yes"}, {4, "!\n"}, {2, "no"}, {0, "yes!\n"}, {10, "no"}}
	if fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("handler calls = %v, want %v", calls, want)
	}
	if got := sink.body(); got != "yes!\nyes!\n" {
		t.Errorf("client body = %q, want %q", got, "yes!\nyes!\n")
	}
}

// TestOBStartBasic004ChunkSize ports tests/output/ob_start_basic_004.phpt:
// with chunk sizes -1..9 and writes of 1 or 4 bytes, the handler runs once a
// whole write leaves the buffer at or over the chunk size, never splitting a
// write, and ob_end_flush makes one more (possibly empty) final call.
func TestOBStartBasic004ChunkSize(t *testing.T) {
	tests := []struct {
		chunk int
		write int   // bytes per write of "12345678"
		lens  []int // length of each handler call, in order
	}{
		{-1, 1, []int{8}},
		{0, 1, []int{8}},
		{1, 1, []int{1, 1, 1, 1, 1, 1, 1, 1, 0}},
		{2, 1, []int{2, 2, 2, 2, 0}},
		{3, 1, []int{3, 3, 2}},
		{4, 1, []int{4, 4, 0}},
		{5, 1, []int{5, 3}},
		{6, 1, []int{6, 2}},
		{7, 1, []int{7, 1}},
		{8, 1, []int{8, 0}},
		{9, 1, []int{8}},
		{-1, 4, []int{8}},
		{0, 4, []int{8}},
		{1, 4, []int{4, 4, 0}},
		{2, 4, []int{4, 4, 0}},
		{3, 4, []int{4, 4, 0}},
		{4, 4, []int{4, 4, 0}},
		{5, 4, []int{8, 0}},
		{6, 4, []int{8, 0}},
		{7, 4, []int{8, 0}},
		{8, 4, []int{8, 0}},
		{9, 4, []int{8}},
	}
	const data = "12345678"
	for _, tt := range tests {
		t.Run(fmt.Sprintf("chunk=%d/write=%d", tt.chunk, tt.write), func(t *testing.T) {
			sink := &recSink{}
			s := output.NewStack(sink)
			n := 0
			h := output.HandlerFunc(func(b []byte, _ output.Op) ([]byte, error) {
				n++
				return fmt.Appendf(nil, "f[call:%d; len:%d]%s\n", n, len(b), b), nil
			})
			mustStart(t, s, h, tt.chunk, output.StdFlags)
			for i := 0; i < len(data); i += tt.write {
				mustWrite(t, s, data[i:i+tt.write])
			}
			mustOK(t, "EndFlush()", s.EndFlush())

			var want strings.Builder
			off := 0
			for i, l := range tt.lens {
				fmt.Fprintf(&want, "f[call:%d; len:%d]%s\n", i+1, l, data[off:off+l])
				off += l
			}
			if got := sink.body(); got != want.String() {
				t.Errorf("client body:\n%s\nwant:\n%s", got, want.String())
			}
		})
	}
}

// TestOBStartBasic002Returns ports tests/output/ob_start_basic_002.phpt: what
// a handler's result does. PHP's "" and null become an empty result, false
// becomes an error (conventionally ErrDecline), 0 becomes "0". Unlike PHP 8.5
// there is no deprecation for non-string results: Go handlers return bytes.
func TestOBStartBasic002Returns(t *testing.T) {
	tests := []struct {
		name string
		h    output.HandlerFunc
		want string
	}{
		{"return_empty_string", func([]byte, output.Op) ([]byte, error) { return []byte{}, nil }, ""},
		{"return_false", func([]byte, output.Op) ([]byte, error) { return nil, output.ErrDecline }, "My output."},
		{"return_error", func([]byte, output.Op) ([]byte, error) { return []byte("junk"), errors.New("boom") }, "My output."},
		{"return_null", func([]byte, output.Op) ([]byte, error) { return nil, nil }, ""},
		{"return_string", func([]byte, output.Op) ([]byte, error) { return []byte("I stole your output."), nil }, "I stole your output."},
		{"return_zero", func([]byte, output.Op) ([]byte, error) { return []byte("0"), nil }, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &recSink{}
			s := output.NewStack(sink)
			mustStart(t, s, tt.h, 0, output.StdFlags)
			mustWrite(t, s, "My output.")
			mustOK(t, "EndFlush()", s.EndFlush())
			if got := sink.body(); got != tt.want {
				t.Errorf("client body = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestOB013Status ports tests/output/ob_013.phpt: names, levels, abilities,
// chunk sizes and fill of nested buffers after flushing the top one into
// the next. PHP's flags 113/4209 are Lifeline's StdFlags plus
// Started=false/true; the user/internal type bit has no Go counterpart.
func TestOB013Status(t *testing.T) {
	sink := &recSink{}
	s := output.NewStack(sink)
	mustStart(t, s, nil, 0, output.StdFlags)
	for i, name := range []string{"a", "b", "c", "d"} {
		mustStart(t, s, named(name), 100*(i+1), output.StdFlags)
	}
	mustStart(t, s, nil, 0, output.StdFlags)

	mustWrite(t, s, "foo\n")
	mustOK(t, "Flush()", s.Flush())
	mustOK(t, "EndClean()", s.EndClean())
	mustOK(t, "Flush()", s.Flush())

	want := []output.LevelStatus{
		{Name: "default output handler", Level: 0, ChunkSize: 0, Flags: output.StdFlags},
		{Name: "a", Level: 1, ChunkSize: 100, Flags: output.StdFlags},
		{Name: "b", Level: 2, ChunkSize: 200, Flags: output.StdFlags},
		{Name: "c", Level: 3, ChunkSize: 300, Flags: output.StdFlags, Used: 4},
		{Name: "d", Level: 4, ChunkSize: 400, Flags: output.StdFlags, Started: true},
	}
	got := s.Status()
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("Status() =\n%+v\nwant\n%+v", got, want)
	}
	if len(sink.events) != 0 {
		t.Errorf("client got %s before the end, want nothing", sink.trace())
	}
	mustOK(t, "EndAll()", s.EndAll())
	if got := sink.body(); got != "foo\n" {
		t.Errorf("client body = %q, want %q", got, "foo\n")
	}
	if st := s.Status(); len(st) != 0 {
		t.Errorf("Status() after EndAll = %+v, want empty", st)
	}
}

// TestStatusNames checks the names Status gives handlers without a Name
// method, and that a declined handler shows as disabled.
func TestStatusNames(t *testing.T) {
	s := output.NewStack(&recSink{})
	mustStart(t, s, output.HandlerFunc(func([]byte, output.Op) ([]byte, error) {
		return nil, output.ErrDecline
	}), 0, output.StdFlags)
	mustOK(t, "Flush()", s.Flush())
	st := s.Status()
	if len(st) != 1 || st[0].Name != "output.HandlerFunc" || !st[0].Started || !st[0].Disabled {
		t.Errorf("Status() = %+v, want one started, disabled output.HandlerFunc", st)
	}
}

// TestOBStartFlags ports tests/output/ob_start_flags.phpt: bits other than the
// abilities (PHP's type, STARTED, DISABLED, PROCESSED) are stripped from the
// flags given to Start.
func TestOBStartFlags(t *testing.T) {
	s := output.NewStack(&recSink{})
	const junk = 0x1000 | 0x2000 | 0x4000 | 0x0001
	mustStart(t, s, named("fn"), 0, output.StdFlags|junk)
	st := s.Status()
	if len(st) != 1 {
		t.Fatalf("Status() = %+v, want one level", st)
	}
	if st[0].Flags != output.StdFlags || st[0].Started || st[0].Disabled {
		t.Errorf("Status()[0] = %+v, want Flags %#x (112), not started, not disabled", st[0], output.StdFlags)
	}
}

// callbackN is the "[callback:N]" handler of the bug46897 and unerasable
// tests.
func callbackN() output.HandlerFunc {
	n := 0
	return func(b []byte, _ output.Op) ([]byte, error) {
		n++
		return fmt.Appendf(nil, "[callback:%d]%s\n", n, b), nil
	}
}

// TestBug46897FlushUnflushable ports tests/output/bug46897.phpt: Flush of a
// buffer started with flags 0 fails and keeps the contents; the buffer is
// still flushed at the end. PHP writes a notice into the buffer; Lifeline
// returns ErrNotFlushable and writes nothing.
func TestBug46897FlushUnflushable(t *testing.T) {
	sink := &recSink{}
	s := output.NewStack(sink)
	mustStart(t, s, callbackN(), 0, 0)
	const msg = "Attempt to flush unerasable buffer - should fail..."
	mustWrite(t, s, msg)
	wantErr(t, "Flush()", s.Flush(), output.ErrNotFlushable)
	wantContents(t, s, msg)
	wantErr(t, "FlushAll()", s.FlushAll(), output.ErrNotFlushable)
	wantContents(t, s, msg)
	mustWrite(t, s, "Done")
	mustOK(t, "EndAll()", s.EndAll())
	if got, want := sink.body(), "[callback:1]"+msg+"Done\n"; got != want {
		t.Errorf("client body = %q, want %q", got, want)
	}
}

// TestUnerasable002 ports tests/output/ob_start_basic_unerasable_002.phpt:
// Clean, EndClean and EndFlush on a flags-0 buffer fail without running the
// handler, and the level stays 1.
func TestUnerasable002(t *testing.T) {
	sink := &recSink{}
	s := output.NewStack(sink)
	mustStart(t, s, callbackN(), 0, 0)
	const msg = "All of the following calls will fail to clean/remove the topmost buffer:\n"
	mustWrite(t, s, msg)
	tests := []struct {
		name string
		op   func() error
		want error
	}{
		{"Clean", s.Clean, output.ErrNotCleanable},
		{"EndClean", s.EndClean, output.ErrNotRemovable},
		{"EndFlush", s.EndFlush, output.ErrNotRemovable},
	}
	for _, tt := range tests {
		err := tt.op()
		wantErr(t, tt.name+"()", err, tt.want)
		if err != nil && !strings.Contains(err.Error(), "(level 0)") {
			t.Errorf("%s() = %q, want the level (0) in the message", tt.name, err)
		}
		wantLevel(t, s, 1)
		wantContents(t, s, msg)
	}
	mustOK(t, "EndAll()", s.EndAll())
	if got, want := sink.body(), "[callback:1]"+msg+"\n"; got != want {
		t.Errorf("client body = %q, want %q", got, want)
	}
}

// TestUnerasable003 ports tests/output/ob_start_basic_unerasable_003.phpt:
// GetClean on a flags-0 buffer returns the contents and an error, and the
// buffer stays. PHP raises two notices; Lifeline returns ErrNotRemovable.
func TestUnerasable003(t *testing.T) {
	sink := &recSink{}
	s := output.NewStack(sink)
	mustStart(t, s, callbackN(), 0, 0)
	const msg = "This call will obtain the content, but will not clean the buffer."
	mustWrite(t, s, msg)
	b, err := s.GetClean()
	wantErr(t, "GetClean()", err, output.ErrNotRemovable)
	if string(b) != msg {
		t.Errorf("GetClean() = %q, want %q", b, msg)
	}
	wantLevel(t, s, 1)
	wantContents(t, s, msg)
	b, err = s.GetFlush()
	wantErr(t, "GetFlush()", err, output.ErrNotRemovable)
	if string(b) != msg {
		t.Errorf("GetFlush() = %q, want %q", b, msg)
	}
	mustOK(t, "EndAll()", s.EndAll())
	if got, want := sink.body(), "[callback:1]"+msg+"\n"; got != want {
		t.Errorf("client body = %q, want %q", got, want)
	}
}

// TestBug60322GetCleanNoBuffer ports tests/output/bug60322.phpt: GetClean
// until it fails empties the stack, then GetClean reports ErrNoBuffer (PHP:
// false without a notice). The other operations report ErrNoBuffer too.
func TestBug60322GetCleanNoBuffer(t *testing.T) {
	sink := &recSink{}
	s := output.NewStack(sink)
	for range 3 {
		mustStart(t, s, nil, 0, output.StdFlags)
		mustWrite(t, s, "x")
	}
	for s.Level() > 0 {
		if _, err := s.GetClean(); err != nil {
			t.Fatalf("GetClean() at level %d = %v", s.Level(), err)
		}
	}
	b, err := s.GetClean()
	if b != nil || !errors.Is(err, output.ErrNoBuffer) {
		t.Errorf("GetClean() = %q, %v; want nil, ErrNoBuffer", b, err)
	}
	b, err = s.GetFlush()
	if b != nil || !errors.Is(err, output.ErrNoBuffer) {
		t.Errorf("GetFlush() = %q, %v; want nil, ErrNoBuffer", b, err)
	}
	for name, op := range map[string]func() error{
		"Flush": s.Flush, "Clean": s.Clean, "EndFlush": s.EndFlush, "EndClean": s.EndClean,
	} {
		wantErr(t, name+"()", op(), output.ErrNoBuffer)
	}
	if b, ok := s.Contents(); ok || b != nil {
		t.Errorf("Contents() = %q, %v; want nil, false", b, ok)
	}
	if n, ok := s.Length(); ok || n != 0 {
		t.Errorf("Length() = %d, %v; want 0, false", n, ok)
	}
	if len(sink.events) != 0 {
		t.Errorf("client got %s, want nothing", sink.trace())
	}
}

// TestOBStartError005InHandler ports tests/output/ob_start_error_005.phpt and
// tests/output/ob_011.phpt: buffer operations from inside a running handler.
// PHP raises a fatal error and drops every buffer; Lifeline returns
// ErrInHandler and changes nothing. Write from inside a handler is
// discarded, as in PHP, but also returns ErrInHandler.
func TestOBStartError005InHandler(t *testing.T) {
	type result struct {
		name string
		err  error
	}
	sink := &recSink{}
	s := output.NewStack(sink)
	var got []result
	h := output.HandlerFunc(func(b []byte, _ output.Op) ([]byte, error) {
		level := s.Level()
		got = got[:0]
		add := func(name string, err error) { got = append(got, result{name, err}) }
		add("Start", s.Start(nil, 0, output.StdFlags))
		_, err := s.Write([]byte("hello"))
		add("Write", err)
		_, err = s.WriteString("hello")
		add("WriteString", err)
		add("Flush", s.Flush())
		add("Clean", s.Clean())
		add("EndFlush", s.EndFlush())
		add("EndClean", s.EndClean())
		_, err = s.GetClean()
		add("GetClean", err)
		add("FlushClient", s.FlushClient())
		add("FlushAll", s.FlushAll())
		add("EndAll", s.EndAll())
		if s.Level() != level {
			add("Level changed", errors.New("level changed"))
		}
		// ob_011: the handler returns ob_get_flush()'s failure.
		c, err := s.GetFlush()
		add("GetFlush", err)
		return c, err
	})
	mustStart(t, s, h, 0, output.StdFlags)
	mustWrite(t, s, "foo\n")
	mustOK(t, "EndFlush()", s.EndFlush())
	if len(got) != 12 {
		t.Fatalf("handler recorded %d results, want 12", len(got))
	}
	for _, r := range got {
		if !errors.Is(r.err, output.ErrInHandler) {
			t.Errorf("%s() inside a handler = %v, want ErrInHandler", r.name, r.err)
		}
	}
	wantLevel(t, s, 0)
	// The handler failed (ob_011): PHP loses "foo\n" to the fatal error;
	// Lifeline disables the handler and passes the raw buffer on.
	if got := sink.body(); got != "foo\n" {
		t.Errorf("client body = %q, want %q", got, "foo\n")
	}
}

// TestOBImplicitFlushBasic002 ports tests/output/ob_implicit_flush_basic_002.phpt:
// implicit flush applies to the client side only, never to a user buffer.
func TestOBImplicitFlushBasic002(t *testing.T) {
	sink := &recSink{}
	s := output.NewStack(sink)
	mustWrite(t, s, "*** Testing ***\n")
	mustStart(t, s, nil, 0, output.StdFlags)
	s.SetImplicitFlush(true)
	mustWrite(t, s, "This is being written to a user buffer.\n")
	mustWrite(t, s, "you should never see this,\n")
	mustOK(t, "EndClean()", s.EndClean())
	mustWrite(t, s, "Done")
	// Nothing of the buffer reached the client, and the only flush is the
	// implicit one after "Done" (consecutive writes merge in the trace).
	if got, want := sink.trace(), `H200 W"*** Testing ***\nDone" F`; got != want {
		t.Errorf("client saw %s, want %s", got, want)
	}
}

// TestBug60768Chunk20 ports tests/output/bug60768.phpt: a chunk-20 handler
// that keeps what it gets and returns nothing sees all 120 bytes.
func TestBug60768Chunk20(t *testing.T) {
	sink := &recSink{}
	s := output.NewStack(sink)
	var storage []byte
	calls := 0
	mustStart(t, s, output.HandlerFunc(func(b []byte, _ output.Op) ([]byte, error) {
		calls++
		storage = append(storage, b...)
		return nil, nil
	}), 20, output.StdFlags)
	mustWrite(t, s, strings.Repeat("0", 20))
	for i := range 10 {
		mustWrite(t, s, fmt.Sprintf("%9d\n", i))
	}
	mustOK(t, "EndFlush()", s.EndFlush())
	if len(storage) != 120 {
		t.Errorf("handler saw %d bytes, want 120", len(storage))
	}
	if calls != 7 { // 20 zeros, five pairs of lines, the empty final call
		t.Errorf("handler called %d times, want 7", calls)
	}
	if len(sink.events) != 0 {
		t.Errorf("client got %s, want nothing", sink.trace())
	}
}

// TestGH15181DisabledNotRerun ports tests/output/gh15181.phpt: a handler that
// fails on the first flush is disabled and never called again, not by the
// next Flush nor at the end; later writes bypass it.
func TestGH15181DisabledNotRerun(t *testing.T) {
	sink := &recSink{}
	s := output.NewStack(sink)
	calls := 0
	mustStart(t, s, output.HandlerFunc(func([]byte, output.Op) ([]byte, error) {
		calls++
		return nil, errors.New("ob_start") // PHP: the callback throws
	}), 0, output.StdFlags)
	mustOK(t, "Flush()", s.Flush())
	mustOK(t, "Flush()", s.Flush())
	mustWrite(t, s, "===DONE===\n")
	wantLevel(t, s, 1)
	wantContents(t, s, "") // a disabled buffer holds nothing
	mustOK(t, "EndAll()", s.EndAll())
	if calls != 1 {
		t.Errorf("handler called %d times, want 1", calls)
	}
	if got := sink.body(); got != "===DONE===\n" {
		t.Errorf("client body = %q, want %q", got, "===DONE===\n")
	}
}
