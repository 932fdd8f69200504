package output

import (
	"net/http"
	"strconv"
)

// Sink receives what reaches the bottom of a [Stack]: the client side, such
// as an [http.ResponseWriter].
//
// The Stack calls a Sink only from the goroutine that owns the Stack.
type Sink interface {
	// WriteHeader sends the status code and header. It is called for every
	// 1xx informational code, then once for the final code, before the first
	// body byte. h is the Stack's own header map ([Stack.Header]): the Sink
	// must not modify it, and may keep it to send it later, at the first
	// body byte or Flush, or to read trailers at the end of the response.
	WriteHeader(code int, h http.Header) error
	// Write sends body bytes. p must not be retained after Write returns.
	Write(p []byte) (int, error)
	// Flush pushes everything written so far towards the client.
	Flush() error
}

// level is one output buffer on the stack.
type level struct {
	h        Handler
	chunk    int
	flags    Flags
	buf      []byte
	started  bool // the handler has been called once (PHP's STARTED)
	disabled bool // the handler declined or failed (PHP's DISABLED)
	base     bool // started by StartBase
}

// Stack is PHP's output layer for one response: a stack of buffers between the
// handler's writes and the client, with the response's status and header.
//
// A Stack is owned by one goroutine (in Lifeline, the run's goroutine); none
// of its methods may be called concurrently. The zero value is not usable:
// create one with [NewStack] or reset a pooled one with [Stack.Reset].
type Stack struct {
	sink   Sink
	header http.Header
	code   int

	levels   []level
	running  bool // a handler is executing: buffer operations are refused
	implicit bool // PHP's implicit_flush: flush the sink after every write

	sent     bool   // the final header went out
	sentFile string // resolved lazily from sentPCs
	sentLine int
	sentPCs  [24]uintptr // the stack that sent the header, when a write did
	sentN    int         // valid entries in sentPCs; -1 once resolved

	ending  bool   // EndAll is collecting the final bytes in pend
	pend    []byte // final bytes collected by EndAll
	written int64  // body bytes handed to the sink

	serverLength int // see SetServerLength
}

// NewStack returns a Stack that sends to sink, with no buffer started.
func NewStack(sink Sink) *Stack {
	s := &Stack{}
	s.Reset(sink)
	return s
}

// Reset prepares s for a new response to sink, keeping only the memory of
// its buffers and header map. It is how pooled stacks are reused.
func (s *Stack) Reset(sink Sink) {
	for i := range s.levels {
		// Levels left open (a response that never reached EndAll) are
		// bounded as pop bounds the others, and release their handlers.
		s.levels[i].h = nil
		if cap(s.levels[i].buf) > maxKeep {
			s.levels[i].buf = nil
		}
	}
	levels := s.levels[:0]
	pend := s.pend[:0]
	if cap(pend) > maxKeep {
		pend = nil
	}
	// The header map is kept too, emptied: a Sink must copy what it keeps
	// of it (Lifeline's copies the fields into the real ResponseWriter's
	// own map), and a handler must not touch it after its response ended,
	// as net/http requires of any ResponseWriter.
	header := s.header
	if header == nil || len(header) > 64 {
		header = make(http.Header)
	} else if len(header) > 0 {
		clear(header)
	}
	// Field by field: sentPCs (most of the struct) is read only up to
	// sentN, and a whole-struct assignment would clear it every time.
	s.sink, s.header, s.code = sink, header, 0
	s.levels, s.running, s.implicit = levels, false, false
	s.sent, s.sentFile, s.sentLine, s.sentN = false, "", 0, 0
	s.ending, s.pend, s.written = false, pend, 0
	s.serverLength = 0
}

// SetServerLength makes [Stack.EndAll] leave Content-Length unset for a
// body shorter than below bytes when it would be the header's only field:
// the sink's server computes the same exact length itself (net/http does
// for a short body written in one piece at the end of a handler), and an
// untouched header map keeps it on its fast path. 0, the default, always
// sets it. Reset returns it to 0.
func (s *Stack) SetServerLength(below int) { s.serverLength = below }

// SetSink replaces the Sink. Lifeline uses it to discard the output of a run
// after [github.com/lifeline-go/lifeline.Run.Finish] or a client abort.
func (s *Stack) SetSink(sink Sink) { s.sink = sink }

// maxKeep bounds the buffer memory a pooled Stack keeps between responses.
const maxKeep = 64 << 10

// Header returns the response header map. Changes made after the header has
// been sent have no effect; use [Stack.SetHeader] to be told.
func (s *Stack) Header() http.Header { return s.header }

// StatusCode returns the status code set by [Stack.WriteHeader], or 0 if
// none was set (200 is sent then).
func (s *Stack) StatusCode() int { return s.code }

// HeadersSent reports whether the header has gone to the client.
func (s *Stack) HeadersSent() bool { return s.sent }

// HeadersSentAt reports where the output that sent the header started (PHP's
// headers_sent($file, $line)). ok is false while the header is unsent; file
// is empty when the header was sent by Lifeline itself (at Finish or at the
// end of the run) rather than by a write of the handler.
func (s *Stack) HeadersSentAt() (file string, line int, ok bool) {
	s.resolveSent()
	return s.sentFile, s.sentLine, s.sent
}

// BytesSent returns the number of body bytes handed to the client side so far.
func (s *Stack) BytesSent() int64 { return s.written }

// WriteHeader sets the status code. Informational codes (1xx) are sent at
// once; a final code is kept until the header goes out. After that it returns
// a [*HeadersSentError] and changes nothing. A code outside 100-999 is an error.
func (s *Stack) WriteHeader(code int) error {
	if code < 100 || code > 999 {
		return &CodeError{Code: code}
	}
	if s.sent {
		return s.headersSentError()
	}
	if code < 200 {
		return s.sink.WriteHeader(code, s.header)
	}
	if s.code == 0 {
		s.code = code
	}
	return nil
}

// SetHeader sets a header field, or returns a [*HeadersSentError] if the
// header has already been sent (PHP's header()).
func (s *Stack) SetHeader(key, value string) error {
	if s.sent {
		return s.headersSentError()
	}
	s.header.Set(key, value)
	return nil
}

func (s *Stack) headersSentError() error {
	s.resolveSent()
	return &HeadersSentError{File: s.sentFile, Line: s.sentLine}
}

// CodeError reports an invalid status code given to [Stack.WriteHeader].
type CodeError struct{ Code int }

func (e *CodeError) Error() string {
	return "output: invalid status code " + strconv.Itoa(e.Code)
}

// Write appends p to the top buffer, or sends it to the client when no buffer
// is active. A write is never split: a buffer's handler runs after the whole
// write has been appended, when the buffer has reached its chunk size. An
// empty write does nothing: it runs no handler and does not send the header.
// Writes made by a running handler are discarded, as in PHP, and return
// [ErrInHandler].
func (s *Stack) Write(p []byte) (int, error) {
	if n := len(s.levels); n > 0 && !s.running {
		// The common case, a small write into the top buffer that stays
		// under its chunk size, is writeAt's append without its checks.
		top := &s.levels[n-1]
		if !top.disabled && (top.chunk == 0 || len(top.buf)+len(p) < top.chunk) {
			top.buf = append(top.buf, p...)
			return len(p), nil
		}
	}
	if s.running {
		return 0, ErrInHandler
	}
	if len(p) == 0 {
		// PHP's php_output_op sends nothing, not even the header, for an
		// empty write, and an empty append never runs a handler.
		return 0, nil
	}
	if err := s.writeAt(len(s.levels)-1, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteString is Write for a string.
func (s *Stack) WriteString(str string) (int, error) {
	if len(s.levels) > 0 && !s.running {
		// Appending a string to the buffer avoids converting it first.
		top := &s.levels[len(s.levels)-1]
		if !top.disabled {
			top.buf = append(top.buf, str...)
			if err := s.overflow(len(s.levels) - 1); err != nil {
				return 0, err
			}
			return len(str), nil
		}
	}
	return s.Write([]byte(str))
}

// writeAt appends p to level i, or sends it down when that level is disabled
// or i is below the stack.
func (s *Stack) writeAt(i int, p []byte) error {
	for i >= 0 && s.levels[i].disabled {
		if len(s.levels[i].buf) > 0 {
			// Left by a handler that panicked: its bytes go first.
			if err := s.process(i, OpWrite, false); err != nil {
				return err
			}
		}
		i--
	}
	if i < 0 {
		return s.toSink(p, false)
	}
	lv := &s.levels[i]
	if lv.h == nil && len(lv.buf) == 0 && lv.chunk > 0 && len(p) >= lv.chunk {
		// The default handler passes its buffer down unchanged, and this
		// write alone fills it: pass the write down without copying it in
		// and out (a streamed body of large writes is not copied once more).
		lv.started = true
		return s.writeAt(i-1, p)
	}
	lv.buf = append(lv.buf, p...)
	return s.overflow(i)
}

// overflow runs level i's handler when its buffer has reached the chunk size.
func (s *Stack) overflow(i int) error {
	lv := &s.levels[i]
	if lv.chunk > 0 && len(lv.buf) >= lv.chunk {
		return s.process(i, OpWrite, false)
	}
	return nil
}

// process runs level i's handler with op over its whole buffer, empties the
// buffer, and passes the result down unless discard is set.
func (s *Stack) process(i int, op Op, discard bool) error {
	lv := &s.levels[i]
	out := lv.buf
	if !lv.disabled && lv.h != nil {
		if !lv.started {
			op |= OpStart
		}
		res, err := s.call(i, op)
		if err != nil {
			lv.disabled = true // PHP: the raw buffer passes through
		} else {
			out = res
		}
	}
	lv.started = true
	// Empty the buffer before passing its bytes down: only lower levels are
	// written to meanwhile, so out stays intact, and if a lower handler
	// panics this level does not keep bytes it has already passed on.
	lv.buf = lv.buf[:0]
	if !discard && len(out) > 0 {
		if i == 0 {
			// writeAt's own case below the stack, one frame fewer for
			// toSink to record.
			return s.toSink(out, false)
		}
		return s.writeAt(i-1, out)
	}
	return nil
}

// call runs level i's handler. If the handler panics, the panic goes on to
// the caller, but the Stack stays usable: the handler is disabled, as PHP
// disables a callback that throws, and its buffer passes through raw at the
// next write below it or at the level's next flush or end.
func (s *Stack) call(i int, op Op) (res []byte, err error) {
	returned := false
	defer func() {
		s.running = false
		if !returned {
			s.levels[i].disabled = true
		}
	}()
	s.running = true
	res, err = s.levels[i].h.Handle(s.levels[i].buf, op)
	returned = true
	return res, err
}

// toSink hands p to the client side, sending the header first.
func (s *Stack) toSink(p []byte, flush bool) error {
	if s.ending {
		s.pend = append(s.pend, p...)
		return nil
	}
	if !s.sent {
		// Keep the program counters only: file and line are worked out
		// when someone asks (HeadersSentAt, a HeadersSentError).
		s.sentN = recordSender(s.sentPCs[:])
		if err := s.sendHeader("", 0); err != nil {
			return err
		}
	}
	if len(p) > 0 {
		n, err := s.sink.Write(p)
		s.written += int64(n)
		if err != nil {
			return err
		}
	}
	if flush || s.implicit {
		return s.sink.Flush()
	}
	return nil
}

// resolveSent turns the recorded program counters into the file and line
// of the first caller outside the library.
func (s *Stack) resolveSent() {
	if s.sentN > 0 {
		s.sentFile, s.sentLine = callerFrom(s.sentPCs[:s.sentN])
	}
	s.sentN = -1
}

func (s *Stack) sendHeader(file string, line int) error {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	s.sent, s.sentFile, s.sentLine = true, file, line
	return s.sink.WriteHeader(s.code, s.header)
}
