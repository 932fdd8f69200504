package output

import (
	"fmt"
	"net/http"
	"strconv"
)

// Start pushes a new buffer (PHP's ob_start). h processes the buffer's
// contents; nil is PHP's "default output handler", which passes them through.
// When chunkSize is positive the handler also runs whenever a write leaves the
// buffer holding at least chunkSize bytes; 0 or less means only on Flush,
// Clean, End and the end of the response. flags are the buffer's abilities:
// PHP's default is [StdFlags]; 0 makes a buffer the handler's code cannot
// clean, flush or remove.
func (s *Stack) Start(h Handler, chunkSize int, flags Flags) error {
	if s.running {
		return ErrInHandler
	}
	if chunkSize < 0 {
		chunkSize = 0
	}
	n := len(s.levels)
	if n < cap(s.levels) {
		s.levels = s.levels[:n+1]
		buf := s.levels[n].buf[:0]
		s.levels[n] = level{h: h, chunk: chunkSize, flags: flags & StdFlags, buf: buf}
	} else {
		s.levels = append(s.levels, level{h: h, chunk: chunkSize, flags: flags & StdFlags})
	}
	return nil
}

// StartBase starts the base buffer, PHP's output_buffering: the bottom
// buffer, with the default handler and [StdFlags], chunkSize as in Start,
// marked Base in [Stack.Status] so that a handler meant to take its place
// (as zlib.output_compression takes output_buffering's) can find it. It
// returns [ErrBaseLevel] when a buffer is already active, and [ErrInHandler]
// inside a handler.
func (s *Stack) StartBase(chunkSize int) error {
	if len(s.levels) > 0 {
		return ErrBaseLevel
	}
	if err := s.Start(nil, chunkSize, StdFlags); err != nil {
		return err
	}
	s.levels[0].base = true
	return nil
}

// Level returns the number of active buffers (PHP's ob_get_level).
func (s *Stack) Level() int { return len(s.levels) }

// Contents returns the top buffer's bytes before its handler runs (PHP's
// ob_get_contents); ok is false when no buffer is active. The slice is valid
// until the next operation on s.
func (s *Stack) Contents() (b []byte, ok bool) {
	if len(s.levels) == 0 {
		return nil, false
	}
	return s.levels[len(s.levels)-1].buf, true
}

// Length returns the length of the top buffer (PHP's ob_get_length); ok is
// false when no buffer is active.
func (s *Stack) Length() (n int, ok bool) {
	b, ok := s.Contents()
	return len(b), ok
}

// top returns the index of the top buffer after checking that the operation
// is allowed: a buffer exists, no handler runs, and the buffer has ability need.
func (s *Stack) top(need Flags) (int, error) {
	if s.running {
		return 0, ErrInHandler
	}
	i := len(s.levels) - 1
	if i < 0 {
		return 0, ErrNoBuffer
	}
	if s.levels[i].flags&need != need {
		switch need {
		case Cleanable:
			return 0, fmt.Errorf("%w (level %d)", ErrNotCleanable, i)
		case Flushable:
			return 0, fmt.Errorf("%w (level %d)", ErrNotFlushable, i)
		default:
			return 0, fmt.Errorf("%w (level %d)", ErrNotRemovable, i)
		}
	}
	return i, nil
}

// Flush runs the top buffer's handler and passes its output to the level
// below, or the client (PHP's ob_flush). The buffer stays active.
func (s *Stack) Flush() error {
	i, err := s.top(Flushable)
	if err != nil {
		return err
	}
	return s.process(i, OpFlush, false)
}

// Clean runs the top buffer's handler and discards both its output and the
// buffer's contents (PHP's ob_clean). The buffer stays active.
func (s *Stack) Clean() error {
	i, err := s.top(Cleanable)
	if err != nil {
		return err
	}
	return s.process(i, OpClean, true)
}

// EndFlush runs the top buffer's handler for the last time, passes its output
// down and removes the buffer (PHP's ob_end_flush).
func (s *Stack) EndFlush() error {
	i, err := s.top(Removable)
	if err != nil {
		return err
	}
	return s.pop(i, OpFinal, false)
}

// EndClean runs the top buffer's handler for the last time, discards its
// output and removes the buffer (PHP's ob_end_clean).
func (s *Stack) EndClean() error {
	i, err := s.top(Removable)
	if err != nil {
		return err
	}
	return s.pop(i, OpClean|OpFinal, true)
}

// GetClean returns a copy of the top buffer's contents, then acts as
// [Stack.EndClean] (PHP's ob_get_clean). With no buffer it returns
// [ErrNoBuffer]; with a buffer that cannot be removed it returns the contents
// and the error, and the buffer stays.
func (s *Stack) GetClean() ([]byte, error) {
	b, ok := s.Contents()
	if !ok {
		return nil, ErrNoBuffer
	}
	b = append([]byte(nil), b...)
	return b, s.EndClean()
}

// GetFlush returns a copy of the top buffer's contents, then acts as
// [Stack.EndFlush] (PHP's ob_get_flush).
func (s *Stack) GetFlush() ([]byte, error) {
	b, ok := s.Contents()
	if !ok {
		return nil, ErrNoBuffer
	}
	b = append([]byte(nil), b...)
	return b, s.EndFlush()
}

// pop processes level i with op and removes it.
func (s *Stack) pop(i int, op Op, discard bool) error {
	err := s.process(i, op, discard)
	s.levels[i].h = nil
	if cap(s.levels[i].buf) > maxKeep {
		s.levels[i].buf = nil
	}
	s.levels = s.levels[:i]
	return err
}

// SetImplicitFlush turns PHP's implicit flush on or off: when on, the client
// side is flushed after every write that reaches it. It does not affect
// buffers (PHP's ob_implicit_flush).
func (s *Stack) SetImplicitFlush(on bool) { s.implicit = on }

// FlushClient sends the header, if it has not gone yet, and flushes what has
// reached the client side (PHP's flush()). It touches no buffer.
func (s *Stack) FlushClient() error {
	if s.running {
		return ErrInHandler
	}
	return s.toSink(nil, true)
}

// EndAll flushes and removes every buffer, top down, with [OpFinal],
// whatever their flags (PHP's php_output_end_all), then sends the header and
// everything that is left. When the header has not been sent before, the
// whole body is known at this point, so Content-Length is set to its exact
// length (unless the status forbids a body). EndAll is what Lifeline runs at
// [github.com/lifeline-go/lifeline.Run.Finish] and at the end of a run.
func (s *Stack) EndAll() error {
	if s.running {
		return ErrInHandler
	}
	if len(s.levels) == 1 && len(s.pend) == 0 {
		if lv := &s.levels[0]; lv.h == nil && !lv.disabled {
			// The usual end: only a default buffer is open, whose bytes
			// are the rest of the body as they are. They go to the sink
			// from the buffer, not through pend, and the level is popped
			// as pop would.
			err := s.endWith(lv.buf, !s.sent, nil)
			lv.buf = lv.buf[:0]
			if cap(lv.buf) > maxKeep {
				lv.buf = nil
			}
			s.levels = s.levels[:0]
			return err
		}
	}
	wasSent := s.sent
	s.ending = true
	var err error
	for i := len(s.levels) - 1; i >= 0; i-- {
		if e := s.pop(i, OpFinal, false); e != nil && err == nil {
			err = e
		}
	}
	s.ending = false
	err = s.endWith(s.pend, !wasSent, err)
	s.pend = s.pend[:0]
	return err
}

// endWith sends the header, when header is set, with the exact length of
// body, then body, the last bytes of the response. It returns err, or the
// sink's first error when err is nil.
func (s *Stack) endWith(body []byte, header bool, err error) error {
	if header {
		if s.code == 0 {
			s.code = http.StatusOK
		}
		switch {
		case len(s.header) == 0 && len(body) < s.serverLength:
			// The server computes it (SetServerLength).
		case bodyAllowed(s.code) && s.header.Get("Transfer-Encoding") == "" && !hasTrailer(s.header):
			s.header.Set("Content-Length", strconv.Itoa(len(body)))
		}
		s.sent = true
		if e := s.sink.WriteHeader(s.code, s.header); e != nil && err == nil {
			err = e
		}
	}
	if len(body) > 0 {
		n, e := s.sink.Write(body)
		s.written += int64(n)
		if e != nil && err == nil {
			err = e
		}
	}
	return err
}

func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

func hasTrailer(h http.Header) bool {
	if _, ok := h["Trailer"]; ok {
		return true
	}
	for k := range h {
		if len(k) > len(http.TrailerPrefix) && k[:len(http.TrailerPrefix)] == http.TrailerPrefix {
			return true
		}
	}
	return false
}

// LevelStatus describes one buffer, as an entry of PHP's ob_get_status(true).
type LevelStatus struct {
	Name      string // the handler's name, "default output handler" for nil
	Level     int    // 0 for the bottom buffer
	ChunkSize int
	Flags     Flags
	Used      int  // bytes in the buffer
	Started   bool // the handler has run at least once
	Disabled  bool // the handler declined or failed and is bypassed
	Base      bool // the base buffer, started by [Stack.StartBase]
}

// Status lists every buffer, bottom up (PHP's ob_get_status(true)).
func (s *Stack) Status() []LevelStatus {
	st := make([]LevelStatus, len(s.levels))
	for i, lv := range s.levels {
		st[i] = LevelStatus{
			Name: handlerName(lv.h), Level: i, ChunkSize: lv.chunk, Flags: lv.flags, Base: lv.base,
			Used: len(lv.buf), Started: lv.started, Disabled: lv.disabled,
		}
	}
	return st
}

// handlerName names h for [Stack.Status]: its Name method if it has one.
func handlerName(h Handler) string {
	switch h := h.(type) {
	case nil:
		return "default output handler"
	case interface{ Name() string }:
		return h.Name()
	default:
		return fmt.Sprintf("%T", h)
	}
}

// FlushAll flushes every buffer from the top down with [OpFlush], so each
// handler (a compressor, say) pushes out what it holds, then acts as
// [Stack.FlushClient]. It stops at a buffer that is not flushable. This is
// what a Go caller means by http.Flusher's Flush; PHP's flush() is
// FlushClient.
func (s *Stack) FlushAll() error {
	if s.running {
		return ErrInHandler
	}
	for i := len(s.levels) - 1; i >= 0; i-- {
		if s.levels[i].flags&Flushable == 0 {
			return fmt.Errorf("%w (level %d)", ErrNotFlushable, i)
		}
		if err := s.process(i, OpFlush, false); err != nil {
			return err
		}
	}
	return s.toSink(nil, true)
}

// DiscardAll drops every buffer, top down and whatever their flags, calling
// each handler with [OpClean]|[OpFinal] and discarding its output (PHP's
// php_output_discard_all, used before a fatal error replaces the page), then
// forgets the status code set so far, so that an error response can replace
// the one that was being built. The header map is kept. When the header has
// already been sent it changes nothing and returns a [*HeadersSentError]:
// the response can no longer be replaced.
func (s *Stack) DiscardAll() error {
	if s.running {
		return ErrInHandler
	}
	if s.sent {
		return s.headersSentError()
	}
	var err error
	for i := len(s.levels) - 1; i >= 0; i-- {
		if e := s.pop(i, OpClean|OpFinal, true); e != nil && err == nil {
			err = e
		}
	}
	s.code = 0
	return err
}
