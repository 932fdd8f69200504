package lifeline

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// runWriter is the ResponseWriter a handler gets inside a run: the front of
// the run's output stack. It belongs to the run's goroutine. Writes and
// flushes terminate the run (panic [ErrTerminated]) once it must stop;
// requests that need the real ResponseWriter (Hijack, deadlines, full
// duplex) travel to the connection side by hand-off.
type runWriter struct {
	ex       *exchange
	rn       *Run
	hijacked bool
}

var (
	errHijackedFinish = fmt.Errorf("lifeline: Finish after Hijack: %w", http.ErrNotSupported)
	errHijackLate     = fmt.Errorf("lifeline: hijack after output started: %w", http.ErrNotSupported)
)

func (w *runWriter) Header() http.Header { return w.ex.stack.Header() }

func (w *runWriter) WriteHeader(code int) {
	if w.hijacked {
		w.rn.cfg.log().Warn("lifeline: WriteHeader on a hijacked connection", "run", w.rn.id, "code", code)
		return
	}
	if err := w.ex.stack.WriteHeader(code); err != nil {
		file, line := callerOf()
		w.rn.cfg.log().Warn("lifeline: WriteHeader ignored", "run", w.rn.id, "code", code,
			"err", err, "caller", file+":"+itoa(line))
	}
}

func (w *runWriter) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if w.rn.mustStop() {
		panic(ErrTerminated)
	}
	return w.ex.stack.Write(p)
}

func (w *runWriter) WriteString(s string) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if w.rn.mustStop() {
		panic(ErrTerminated)
	}
	return w.ex.stack.WriteString(s)
}

// copyBufs holds ReadFrom's buffers.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// ReadFrom copies from src through Write, so that counting, buffering,
// handlers and termination behave exactly as for Write.
func (w *runWriter) ReadFrom(src io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	var n int64
	for {
		m, rerr := src.Read(*bp)
		if m > 0 {
			k, werr := w.Write((*bp)[:m])
			n += int64(k)
			if werr != nil {
				return n, werr
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// Flush implements [http.Flusher]: see FlushError.
func (w *runWriter) Flush() { _ = w.FlushError() }

// FlushError pushes every buffer's contents down with the flush phase (so
// compression handlers sync-flush), then sends the header and flushes the
// client side. [http.ResponseController] calls it. PHP's flush(), which
// touches no buffer, is [output.Stack.FlushClient].
func (w *runWriter) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if w.rn.mustStop() {
		panic(ErrTerminated)
	}
	return w.ex.stack.FlushAll()
}

// Hijack hands the connection to the handler (HTTP/1 only, before any
// output). Afterwards the response is the handler's business: Finish returns
// an error and writes return [http.ErrHijacked]. On HTTP/2 it returns an
// error wrapping [http.ErrNotSupported].
func (w *runWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.ex.stack.HeadersSent() || w.rn.Phase() != PhaseRunning {
		return nil, nil, errHijackLate
	}
	m := &w.ex.msg
	*m = message{kind: msgHijack}
	err, ok := w.ex.send()
	if !ok {
		return nil, nil, fmt.Errorf("lifeline: hijack: %w", ErrClientAborted)
	}
	if err != nil {
		return nil, nil, err
	}
	conn, brw := m.conn, m.brw
	*m = message{}
	w.hijacked = true
	w.ex.released = true
	w.ex.stack.SetSink(discardSink{})
	w.rn.mu.Lock()
	w.rn.hijacked = true
	w.rn.mu.Unlock()
	return conn, brw, nil
}

// control runs fn on the connection side with a ResponseController of the
// real ResponseWriter.
func (w *runWriter) control(fn func(*http.ResponseController) error) error {
	if w.hijacked {
		return http.ErrHijacked
	}
	m := &w.ex.msg
	*m = message{kind: msgControl, control: fn}
	err, ok := w.ex.send()
	*m = message{}
	if !ok {
		return fmt.Errorf("lifeline: response already released: %w", http.ErrNotSupported)
	}
	return err
}

// SetReadDeadline is reached by [http.ResponseController.SetReadDeadline].
func (w *runWriter) SetReadDeadline(t time.Time) error {
	return w.control(func(rc *http.ResponseController) error { return rc.SetReadDeadline(t) })
}

// SetWriteDeadline is reached by [http.ResponseController.SetWriteDeadline].
func (w *runWriter) SetWriteDeadline(t time.Time) error {
	return w.control(func(rc *http.ResponseController) error { return rc.SetWriteDeadline(t) })
}

// EnableFullDuplex is reached by [http.ResponseController.EnableFullDuplex].
func (w *runWriter) EnableFullDuplex() error {
	return w.control(func(rc *http.ResponseController) error { return rc.EnableFullDuplex() })
}

var (
	_ http.ResponseWriter             = (*runWriter)(nil)
	_ http.Flusher                    = (*runWriter)(nil)
	_ http.Hijacker                   = (*runWriter)(nil)
	_ io.ReaderFrom                   = (*runWriter)(nil)
	_ io.StringWriter                 = (*runWriter)(nil)
	_ interface{ FlushError() error } = (*runWriter)(nil) // tried first by ResponseController
)

// isBodyNotAllowed reports the error net/http returns for a body written
// to a 204 or 304 response: not a client abort.
func isBodyNotAllowed(err error) bool { return errors.Is(err, http.ErrBodyNotAllowed) }
