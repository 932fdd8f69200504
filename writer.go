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
// the run's output stack, on the run side. It is part of its Run, never
// pooled, so a handler (or a framework) that keeps it past the run reaches
// nothing: after the run ended every method returns at once, with
// [ErrRunEnded] where it returns an error. Writes and flushes terminate the
// run (panic [ErrTerminated]) once it must stop. Hijack travels to the
// connection side by hand-off.
type runWriter struct {
	rn *Run
}

var (
	errHijackedFinish = fmt.Errorf("lifeline: Finish after Hijack: %w", http.ErrNotSupported)
	errHijackLate     = fmt.Errorf("lifeline: hijack after output started: %w", http.ErrNotSupported)
)

// ended reports whether the run is over: nothing of the exchange may be
// touched any more.
func (w *runWriter) ended() bool { return w.rn.Phase() == PhaseDone }

// plain reports, in one look, the common case of a write: the handler runs,
// nothing aborted or stopped the run, and it did not hijack (each of those
// sets stateAttend). None of the checks of Write can fire then (ended,
// hijacked, checkOutput).
func (w *runWriter) plain() bool {
	return w.rn.state.Load() == uint32(PhaseRunning)
}

func (w *runWriter) Header() http.Header {
	if w.ended() {
		return http.Header{} // written to nowhere
	}
	return w.rn.ex.stack.Header()
}

func (w *runWriter) WriteHeader(code int) {
	if w.ended() {
		file, line := callerOf()
		w.rn.conf().log().Warn("lifeline: WriteHeader after the run ended", "run", w.rn.id, "code", code,
			"caller", fmt.Sprintf("%s:%d", file, line))
		return
	}
	if w.rn.hijacked.Load() {
		w.rn.conf().log().Warn("lifeline: WriteHeader on a hijacked connection", "run", w.rn.id, "code", code)
		return
	}
	// A header is output too: a run that must stop is terminated here, so
	// that a recoverer that swallowed a termination and answers 500 (as
	// gorilla's RecoveryHandler does) is stopped before it logs it as a crash.
	w.rn.checkOutput()
	if err := w.rn.ex.stack.WriteHeader(code); err != nil {
		file, line := callerOf()
		w.rn.conf().log().Warn("lifeline: WriteHeader ignored", "run", w.rn.id, "code", code,
			"err", err, "caller", fmt.Sprintf("%s:%d", file, line))
	}
}

func (w *runWriter) Write(p []byte) (int, error) {
	if w.plain() {
		return w.rn.ex.stack.Write(p)
	}
	if w.ended() {
		return 0, ErrRunEnded
	}
	if w.rn.hijacked.Load() {
		return 0, http.ErrHijacked
	}
	w.rn.checkOutput()
	return w.rn.ex.stack.Write(p)
}

func (w *runWriter) WriteString(s string) (int, error) {
	if w.plain() {
		return w.rn.ex.stack.WriteString(s)
	}
	if w.ended() {
		return 0, ErrRunEnded
	}
	if w.rn.hijacked.Load() {
		return 0, http.ErrHijacked
	}
	w.rn.checkOutput()
	return w.rn.ex.stack.WriteString(s)
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
	if w.ended() {
		return ErrRunEnded
	}
	if w.rn.hijacked.Load() {
		return http.ErrHijacked
	}
	w.rn.checkOutput()
	return w.rn.ex.stack.FlushAll()
}

// Hijack hands the connection to the handler (HTTP/1 only, before any
// output). Afterwards the response is the handler's business: Finish returns
// an error and writes return [http.ErrHijacked]. On HTTP/2 it returns an
// error wrapping [http.ErrNotSupported].
func (w *runWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.ended() {
		return nil, nil, ErrRunEnded
	}
	if w.rn.hijacked.Load() {
		return nil, nil, http.ErrHijacked
	}
	ex := w.rn.ex
	if ex.stack.HeadersSent() || w.rn.Phase() != PhaseRunning {
		return nil, nil, errHijackLate
	}
	ex.msg = message{kind: msgHijack}
	err, ok := ex.send()
	if !ok {
		return nil, nil, fmt.Errorf("lifeline: hijack: %w", ErrClientAborted)
	}
	if err != nil {
		return nil, nil, err
	}
	conn, brw := ex.msg.conn, ex.msg.brw
	ex.msg = message{}
	ex.released = true
	ex.stack.SetSink(discardSink{})
	w.rn.hijacked.Store(true)
	w.rn.attend()
	return conn, brw, nil
}

// control runs fn with a ResponseController of the real ResponseWriter,
// under the exchange's lock.
func (w *runWriter) control(fn func(*http.ResponseController) error) error {
	if w.ended() {
		return ErrRunEnded
	}
	if w.rn.hijacked.Load() {
		return http.ErrHijacked
	}
	ex := w.rn.ex
	if ex.released {
		return fmt.Errorf("lifeline: response already released: %w", http.ErrNotSupported)
	}
	rw, ok := ex.acquire()
	if !ok {
		return fmt.Errorf("lifeline: response already released: %w", http.ErrNotSupported)
	}
	defer ex.unlock()
	return fn(http.NewResponseController(rw))
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

// isNotSupported reports an error meaning the writer cannot do it.
func isNotSupported(err error) bool { return errors.Is(err, http.ErrNotSupported) }
