package output

import (
	"errors"
	"fmt"
)

var (
	// ErrDecline is what a [Handler] returns to decline: the handler is
	// disabled and the raw buffer passes through (PHP: the callback returned false).
	ErrDecline = errors.New("output: handler declined")
	// ErrNoBuffer is returned by buffer operations when no buffer is active
	// (PHP: "failed to flush buffer. No buffer to flush").
	ErrNoBuffer = errors.New("output: no buffer")
	// ErrNotCleanable, ErrNotFlushable and ErrNotRemovable are returned when
	// the top buffer was started without that ability (see [Flags]).
	ErrNotCleanable = errors.New("output: buffer is not cleanable")
	ErrNotFlushable = errors.New("output: buffer is not flushable")
	ErrNotRemovable = errors.New("output: buffer is not removable")
	// ErrInHandler is returned by buffer operations called from inside a
	// running [Handler] (PHP: "Cannot use output buffering in output buffering
	// display handlers").
	ErrInHandler = errors.New("output: buffer operation inside an output handler")
	// ErrBaseLevel is returned by [Stack.StartBase] when a buffer is
	// already active: the base buffer is the bottom one.
	ErrBaseLevel = errors.New("output: base buffer must be the first")
	// ErrHeadersSent matches every [*HeadersSentError].
	ErrHeadersSent = errors.New("output: headers already sent")
)

// HeadersSentError reports an attempt to change the status or header after
// the header went to the client. File and Line name the code that caused the
// first byte to be sent (PHP's "headers already sent by (output started at
// file:line)"); they are empty and 0 when no caller outside Lifeline was found.
type HeadersSentError struct {
	File string
	Line int
}

func (e *HeadersSentError) Error() string {
	if e.File == "" {
		return ErrHeadersSent.Error()
	}
	return fmt.Sprintf("output: headers already sent (output started at %s:%d)", e.File, e.Line)
}

// Is reports whether target is [ErrHeadersSent].
func (e *HeadersSentError) Is(target error) bool { return target == ErrHeadersSent }
