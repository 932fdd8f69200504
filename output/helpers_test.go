package output_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/lifeline-go/lifeline/output"
)

// event is one call a [recSink] received.
type event struct {
	kind   byte // 'H' header, 'W' write, 'F' flush
	code   int  // for 'H'
	cl     string
	hasCL  bool
	header http.Header // a copy, for 'H'
	body   []byte      // for 'W'
}

func (e event) String() string {
	switch e.kind {
	case 'H':
		if e.hasCL {
			return fmt.Sprintf("H%d cl=%s", e.code, e.cl)
		}
		return fmt.Sprintf("H%d", e.code)
	case 'W':
		return fmt.Sprintf("W%q", e.body)
	default:
		return "F"
	}
}

// recSink is an [output.Sink] that records every call, merging consecutive
// writes into one event so that tests compare what the client would see.
type recSink struct {
	events []event
}

func (r *recSink) WriteHeader(code int, h http.Header) error {
	cl, has := h["Content-Length"]
	e := event{kind: 'H', code: code, header: h.Clone(), hasCL: has}
	if has && len(cl) > 0 {
		e.cl = cl[0]
	}
	r.events = append(r.events, e)
	return nil
}

func (r *recSink) Write(p []byte) (int, error) {
	if n := len(r.events); n > 0 && r.events[n-1].kind == 'W' {
		r.events[n-1].body = append(r.events[n-1].body, p...)
	} else {
		r.events = append(r.events, event{kind: 'W', body: append([]byte(nil), p...)})
	}
	return len(p), nil
}

func (r *recSink) Flush() error {
	r.events = append(r.events, event{kind: 'F'})
	return nil
}

// body returns every byte written, in order.
func (r *recSink) body() string {
	var b strings.Builder
	for _, e := range r.events {
		if e.kind == 'W' {
			b.Write(e.body)
		}
	}
	return b.String()
}

// headers returns the header events.
func (r *recSink) headers() []event {
	var hs []event
	for _, e := range r.events {
		if e.kind == 'H' {
			hs = append(hs, e)
		}
	}
	return hs
}

// trace renders the events compactly, for comparisons and failure messages.
func (r *recSink) trace() string {
	parts := make([]string, len(r.events))
	for i, e := range r.events {
		parts[i] = e.String()
	}
	return strings.Join(parts, " ")
}

// named is an identity handler with a name, as PHP's function names in
// ob_list_handlers.
type named string

func (n named) Handle(buf []byte, _ output.Op) ([]byte, error) { return buf, nil }
func (n named) Name() string                                   { return string(n) }

// call is one recorded handler invocation.
type call struct {
	phase output.Op
	in    string
}

// recorder returns a handler that logs its calls into *calls and returns
// fn's result.
func recorder(calls *[]call, fn func(buf []byte, phase output.Op) ([]byte, error)) output.HandlerFunc {
	return func(buf []byte, phase output.Op) ([]byte, error) {
		*calls = append(*calls, call{phase: phase, in: string(buf)})
		return fn(buf, phase)
	}
}

func mustStart(t *testing.T, s *output.Stack, h output.Handler, chunk int, flags output.Flags) {
	t.Helper()
	if err := s.Start(h, chunk, flags); err != nil {
		t.Fatalf("Start(chunk %d, flags %#x) = %v", chunk, flags, err)
	}
}

func mustWrite(t *testing.T, s *output.Stack, str string) {
	t.Helper()
	n, err := s.WriteString(str)
	if err != nil || n != len(str) {
		t.Fatalf("WriteString(%q) = %d, %v; want %d, nil", str, n, err, len(str))
	}
}

func mustOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s = %v, want nil", what, err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v, want %v", what, err, want)
	}
}

func wantLevel(t *testing.T, s *output.Stack, want int) {
	t.Helper()
	if got := s.Level(); got != want {
		t.Errorf("Level() = %d, want %d", got, want)
	}
}

func wantContents(t *testing.T, s *output.Stack, want string) {
	t.Helper()
	b, ok := s.Contents()
	if !ok || string(b) != want {
		t.Errorf("Contents() = %q, %v; want %q, true", b, ok, want)
	}
}
