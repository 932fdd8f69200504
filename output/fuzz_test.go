package output_test

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/lifeline-go/lifeline/output"
)

// Handler kinds used by FuzzStack.
const (
	kindDefault    = iota // nil handler: PHP's default output handler
	kindUpper             // uppercases
	kindPhase             // prefixes "[phase]", so it emits even for an empty buffer
	kindDecline           // always declines
	kindFailSecond        // fails on its second call, with junk output
	kindEat               // returns nothing
	kindMeddle            // tries buffer operations from inside (ErrInHandler), then passes through
	kindScratch           // wraps in <>, reusing its result buffer
	numKinds
)

// fuzzHandler is a deterministic handler; the Stack and the model each get
// their own instance, so stateful kinds evolve identically on both sides.
type fuzzHandler struct {
	kind    int
	id      int
	calls   int
	scratch []byte
	log     *[]string     // every call: id, phase and input
	s       *output.Stack // for kindMeddle on the Stack side; nil in the model
	meddled *[]string     // operations that did not return ErrInHandler
}

func (h *fuzzHandler) Name() string { return fmt.Sprintf("k%d#%d", h.kind, h.id) }

func (h *fuzzHandler) Handle(buf []byte, p output.Op) ([]byte, error) {
	*h.log = append(*h.log, fmt.Sprintf("%s %v %s", h.Name(), p, digest(buf)))
	h.calls++
	switch h.kind {
	case kindUpper:
		return bytes.ToUpper(buf), nil
	case kindPhase:
		return append([]byte("["+p.String()+"]"), buf...), nil
	case kindDecline:
		return nil, output.ErrDecline
	case kindFailSecond:
		if h.calls == 2 {
			return []byte("junk"), errors.New("fail")
		}
		return buf, nil
	case kindEat:
		return nil, nil
	case kindMeddle:
		if h.s != nil {
			h.meddle()
		}
		return buf, nil
	case kindScratch:
		h.scratch = append(append(append(h.scratch[:0], '<'), buf...), '>')
		return h.scratch, nil
	}
	return buf, nil
}

func (h *fuzzHandler) meddle() {
	s := h.s
	check := func(name string, err error) {
		if !errors.Is(err, output.ErrInHandler) {
			*h.meddled = append(*h.meddled, fmt.Sprintf("%s = %v", name, err))
		}
	}
	level := s.Level()
	check("Start", s.Start(nil, 0, output.StdFlags))
	_, err := s.Write([]byte("meddle"))
	check("Write", err)
	_, err = s.WriteString("meddle")
	check("WriteString", err)
	check("Flush", s.Flush())
	check("Clean", s.Clean())
	check("EndFlush", s.EndFlush())
	check("EndClean", s.EndClean())
	_, err = s.GetClean()
	check("GetClean", err)
	_, err = s.GetFlush()
	check("GetFlush", err)
	check("FlushClient", s.FlushClient())
	check("FlushAll", s.FlushAll())
	check("EndAll", s.EndAll())
	if s.Level() != level {
		*h.meddled = append(*h.meddled, fmt.Sprintf("Level() went from %d to %d", level, s.Level()))
	}
}

var (
	fuzzCodes   = []int{200, 204, 304, 404, 103, 100, 500, 99, 1000}
	fuzzHeaders = []string{"X-A", "Transfer-Encoding", "Trailer", "Trailer:X-T"}
)

// fuzzHarness drives a Stack and the model with the same operations.
type fuzzHarness struct {
	t          *testing.T
	s          *output.Stack
	sink       *recSink
	m          *model
	msink      *recSink
	nextID     int
	seq        int
	total      int
	sLog, mLog []string
	meddled    []string
}

func newFuzzHarness(t *testing.T) *fuzzHarness {
	h := &fuzzHarness{t: t, sink: &recSink{}, msink: &recSink{}}
	h.s = output.NewStack(h.sink)
	h.m = newModel(h.msink)
	return h
}

// payload returns n deterministic lowercase bytes.
func (h *fuzzHarness) payload(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte('a' + h.seq%26)
		h.seq++
	}
	return p
}

// FuzzStack runs random operation sequences on a Stack and on the model and
// checks that they agree on everything observable: what reaches the client
// and when, every handler call, Level, Contents, Length, Status, the header
// state, and every error. It must never panic.
func FuzzStack(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 2, 5, 0x80, 1, 7, 3, 1, 4, 5}) // start upper chunk 3, writes, flush, end
	f.Add([]byte{0, 3, 0, 0, 1, 9, 3, 1, 9, 14})   // decliner, unerasable
	f.Add([]byte{0, 6, 1, 0x80, 1, 20, 0, 7, 4, 0xf0, 1, 5, 10, 9, 5})
	f.Add([]byte{11, 4, 13, 0, 0, 2, 0, 0x80, 2, 0, 16, 3, 14, 1, 4, 15, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1200 { // 300 operations use at most 1200 bytes
			return
		}
		h := newFuzzHarness(t)
		const maxOps = 300
		for i, ops := 0, 0; i < len(data) && ops < maxOps; ops++ {
			op := data[i] % 17
			arg := func(k int) byte {
				if i+k < len(data) {
					return data[i+k]
				}
				return 0
			}
			i += h.step(op, arg(1), arg(2), arg(3))
			h.compare(op)
		}
		h.compareErr("final EndAll", h.s.EndAll(), h.m.endAll())
		h.compare(255)
		h.compareEnd()
	})
}

// step applies one operation to both sides and returns how many input bytes
// it used. The encoding (op is the first byte mod 17, a b c the next ones):
//
//	0 Start(kind a%8, chunk b%24-2, flags c&0x70, or StdFlags if c&0x80; b's
//	  high bits add non-ability bits that Start must strip)
//	1 Write(a%48 bytes)  2 WriteString(a%48 bytes)  16 WriteString(a<<9 bytes)
//	3 Flush  4 Clean  5 EndFlush  6 EndClean  7 GetClean  8 GetFlush
//	9 FlushClient  10 FlushAll  11 WriteHeader(fuzzCodes[a])
//	12 SetImplicitFlush(a&1)  13 SetHeader(fuzzHeaders[a])  14 EndAll  15 Reset
func (h *fuzzHarness) step(op, a, b, c byte) int {
	s, m := h.s, h.m
	switch op {
	case 0:
		kind, chunk := int(a)%numKinds, int(b%24)-2
		flags := output.Flags(c&0x70) | output.Flags(b&0xf0)<<8 // high bits must be stripped
		if c&0x80 != 0 {
			flags = output.StdFlags
		}
		h.nextID++
		var sh, mh *fuzzHandler
		if kind != kindDefault {
			sh = &fuzzHandler{kind: kind, id: h.nextID, log: &h.sLog, s: s, meddled: &h.meddled}
			mh = &fuzzHandler{kind: kind, id: h.nextID, log: &h.mLog}
		}
		var hs output.Handler
		if sh != nil {
			hs = sh
		}
		h.compareErr("Start", s.Start(hs, chunk, flags), m.start(mh, chunk, flags))
		return 4
	case 1, 2, 16:
		n := int(a) % 48
		if op == 16 {
			n = int(a) << 9
		}
		if h.total+n > 300<<10 {
			n = 0
		}
		h.total += n
		p := h.payload(n)
		var got int
		var err error
		if op == 1 {
			got, err = s.Write(p)
		} else {
			got, err = s.WriteString(string(p))
		}
		h.compareErr("Write", err, m.write(p))
		if got != n {
			h.t.Fatalf("Write(%d bytes) = %d", n, got)
		}
		return 2
	case 3:
		h.compareErr("Flush", s.Flush(), m.flush())
	case 4:
		h.compareErr("Clean", s.Clean(), m.clean())
	case 5:
		h.compareErr("EndFlush", s.EndFlush(), m.endFlush())
	case 6:
		h.compareErr("EndClean", s.EndClean(), m.endClean())
	case 7, 8:
		var got, want []byte
		var err error
		var merr *merr
		if op == 7 {
			got, err = s.GetClean()
			want, merr = m.getClean()
		} else {
			got, err = s.GetFlush()
			want, merr = m.getFlush()
		}
		h.compareErr("GetClean/GetFlush", err, merr)
		if !bytes.Equal(got, want) { // nil and empty are both fine for an empty buffer
			h.t.Fatalf("GetClean/GetFlush = %q, want %q", got, want)
		}
	case 9:
		h.compareErr("FlushClient", s.FlushClient(), m.flushClient())
	case 10:
		h.compareErr("FlushAll", s.FlushAll(), m.flushAll())
	case 11:
		code := fuzzCodes[int(a)%len(fuzzCodes)]
		h.compareErr(fmt.Sprintf("WriteHeader(%d)", code), s.WriteHeader(code), m.writeHeader(code))
		return 2
	case 12:
		s.SetImplicitFlush(a&1 == 1)
		m.implicit = a&1 == 1
		return 2
	case 13:
		k := fuzzHeaders[int(a)%len(fuzzHeaders)]
		h.compareErr("SetHeader("+k+")", s.SetHeader(k, "v"), m.setHeader(k, "v"))
		return 2
	case 14:
		h.compareErr("EndAll", s.EndAll(), m.endAll())
	case 15:
		s.Reset(h.sink)
		m.reset()
	}
	return 1
}

func (h *fuzzHarness) compareErr(what string, got error, want *merr) {
	t := h.t
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("%s = %v, want nil", what, got)
		}
		return
	}
	if want.kind == errCode {
		var ce *output.CodeError
		if !errors.As(got, &ce) || ce.Code != want.code {
			t.Fatalf("%s = %v, want *CodeError{%d}", what, got, want.code)
		}
		return
	}
	if !errors.Is(got, want.kind) {
		t.Fatalf("%s = %v, want %v", what, got, want.kind)
	}
	if want.level >= 0 && !strings.HasSuffix(got.Error(), fmt.Sprintf("(level %d)", want.level)) {
		t.Fatalf("%s = %q, want level %d named", what, got, want.level)
	}
}

// compare checks the observable state after operation op.
func (h *fuzzHarness) compare(op byte) {
	t, s, m := h.t, h.s, h.m
	t.Helper()
	if len(h.meddled) > 0 {
		t.Fatalf("after op %d: inside a handler: %v", op, h.meddled)
	}
	if s.Level() != len(m.levels) {
		t.Fatalf("after op %d: Level() = %d, want %d", op, s.Level(), len(m.levels))
	}
	gb, gok := s.Contents()
	wb, wok := m.contents()
	if !bytes.Equal(gb, wb) || gok != wok {
		t.Fatalf("after op %d: Contents() = %q, %v; want %q, %v", op, gb, gok, wb, wok)
	}
	if n, ok := s.Length(); n != len(wb) || ok != wok {
		t.Fatalf("after op %d: Length() = %d, %v; want %d, %v", op, n, ok, len(wb), wok)
	}
	if g, w := fmt.Sprintf("%+v", s.Status()), fmt.Sprintf("%+v", m.status()); g != w {
		t.Fatalf("after op %d: Status() =\n%s\nwant\n%s", op, g, w)
	}
	if s.HeadersSent() != m.sent || s.StatusCode() != m.code || s.BytesSent() != m.written {
		t.Fatalf("after op %d: sent %v, code %d, bytes %d; want %v, %d, %d", op,
			s.HeadersSent(), s.StatusCode(), s.BytesSent(), m.sent, m.code, m.written)
	}
	if len(h.sink.events) != len(h.msink.events) || len(h.sLog) != len(h.mLog) {
		h.compareEnd()
		t.Fatalf("after op %d: %d client events, %d handler calls; want %d, %d", op,
			len(h.sink.events), len(h.sLog), len(h.msink.events), len(h.mLog))
	}
}

// compareEnd compares the full client trace and handler call logs.
func (h *fuzzHarness) compareEnd() {
	t := h.t
	t.Helper()
	if !sameEvents(h.sink.events, h.msink.events) {
		t.Fatalf("client saw\n%s\nwant\n%s", clip(h.sink.trace()), clip(h.msink.trace()))
	}
	if g, w := strings.Join(h.sLog, "\n"), strings.Join(h.mLog, "\n"); g != w {
		t.Fatalf("handler calls\n%s\nwant\n%s", clip(g), clip(w))
	}
}

// sameEvents compares two client traces, header fields included.
func sameEvents(a, b []event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.kind != y.kind || x.code != y.code || x.cl != y.cl || x.hasCL != y.hasCL ||
			!bytes.Equal(x.body, y.body) || fmt.Sprint(x.header) != fmt.Sprint(y.header) {
			return false
		}
	}
	return true
}

// digest summarises b for the call logs: short inputs in full, long ones by
// length, ends and checksum.
func digest(b []byte) string {
	if len(b) <= 64 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%q…%q(%d,%08x)", b[:16], b[len(b)-16:], len(b), crc32.ChecksumIEEE(b))
}

func clip(s string) string {
	if len(s) > 4000 {
		return s[:2000] + " … " + s[len(s)-2000:]
	}
	return s
}
