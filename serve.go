package lifeline

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"time"
)

// route is one wrapped handler with its settings.
type route struct {
	pool *Pool
	cfg  config
	h    http.Handler
}

// ServeHTTP is the connection side of a run: it starts the run's goroutine,
// then owns the ResponseWriter, acting on what the run hands over, until the
// run ends, calls Finish, hijacks the connection, or runs away.
func (rt *route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := rt.pool
	if err := p.admit(r.Context()); err != nil {
		p.reject(w, err)
		return
	}
	rn, ex := p.newRun(rt, r)
	cw := connWatchFrom(r.Context())
	if cw != nil {
		cw.attach(rn)
	}
	go rn.execute(rt.h)
	abortStream := rn.serveConn(w, r, ex, cw)
	if cw != nil {
		cw.detach(rn)
	}
	if abortStream {
		// Cut the response short so that a partial body can never look
		// complete: net/http closes the HTTP/1 connection or resets the
		// HTTP/2 stream without logging.
		panic(http.ErrAbortHandler)
	}
}

// serveConn is the connection side's loop. It reports whether the response
// must be cut short.
func (rn *Run) serveConn(w http.ResponseWriter, r *http.Request, ex *exchange, cw *connWatch) (abortStream bool) {
	wroteHeader := false
	ctxDone := r.Context().Done()
	for {
		select {
		case <-ex.req:
			m := &ex.msg
			var err error
			if m.header != nil && m.kind != msgInfo {
				writeHeader(w, m.code, m.header)
				wroteHeader = true
			}
			switch m.kind {
			case msgInfo:
				copyHeader(w.Header(), m.header)
				w.WriteHeader(m.code)
			case msgWrite:
				if !wroteHeader { // a stack never writes a body before its header
					wroteHeader = true
				}
				if _, err = w.Write(m.body); err != nil && !isBodyNotAllowed(err) {
					rn.abort(causeOf(err))
				} else {
					err = nil
				}
			case msgFlush:
				if err = http.NewResponseController(w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
					rn.abort(causeOf(err))
				}
			case msgControl:
				err = m.control(http.NewResponseController(w))
			case msgHijack:
				m.conn, m.brw, err = http.NewResponseController(w).Hijack()
				ex.ack <- err
				if err == nil {
					return false
				}
				continue
			case msgRelease:
				ex.ack <- rn.writeLast(w, m.body)
				return false
			case msgDone:
				// The run side has gone: the body and the run are ours now.
				_ = rn.writeLast(w, m.body)
				m.body = nil
				abort := rn.answer(w, r, m.outcome, wroteHeader)
				rn.pool.endRun(rn)
				return abort
			}
			ex.ack <- err
		case <-ctxDone:
			ctxDone = nil
			cause := CauseClosed
			if cw != nil {
				cause = cw.classify()
			}
			rn.abort(cause)
		case <-ex.runaway:
			// The run ignored its time limit and grace period: answer for it
			// and let it go on alone, counted as runaway.
			ex.closed = true
			close(ex.gone)
			if r.ContentLength != 0 {
				// The run may be stuck reading the body, holding its lock:
				// net/http would wait for that lock to discard the rest of
				// the body before answering (and a slow client could make it
				// wait for ever). Close after the answer, and wake the
				// reader with a deadline in the past.
				w.Header().Set("Connection", "close")
				_ = http.NewResponseController(w).SetReadDeadline(time.Now())
			}
			return rn.answer(w, r, outcomeTimeout, wroteHeader)
		}
	}
}

// writeLast writes the body that travelled with a release or done message.
func (rn *Run) writeLast(w http.ResponseWriter, body []byte) error {
	if len(body) == 0 {
		return nil
	}
	if _, err := w.Write(body); err != nil && !isBodyNotAllowed(err) {
		rn.abort(causeOf(err))
		return err
	}
	rn.bytes.Add(int64(len(body)))
	return nil
}

// answer finishes the response on the connection side for how the run ended.
func (rn *Run) answer(w http.ResponseWriter, r *http.Request, out outcome, wroteHeader bool) (abortStream bool) {
	if rn.Aborted() && !rn.finished.Load() {
		// The client left before the response was complete. What it may
		// still read (a half-closed connection) must not look complete:
		// cut the response short rather than end it cleanly.
		return true
	}
	switch out {
	case outcomeTimeout, outcomePanic:
		if wroteHeader {
			return true
		}
		if out == outcomeTimeout {
			rn.setCode(http.StatusServiceUnavailable)
			if h := rn.cfg.timeoutHandler; h != nil {
				h.ServeHTTP(w, r)
				return false
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("lifeline: time limit exceeded\n"))
			return false
		}
		rn.setCode(http.StatusInternalServerError)
		http.Error(w, "500 internal server error", http.StatusInternalServerError)
		return false
	case outcomeAbortStream:
		return true
	}
	return false
}

func (rn *Run) setCode(code int) {
	rn.mu.Lock()
	rn.code = code
	rn.mu.Unlock()
}

func writeHeader(w http.ResponseWriter, code int, h http.Header) {
	copyHeader(w.Header(), h)
	w.WriteHeader(code)
}

// copyHeader replaces dst's fields with src's. The run side's map is read
// only while the run side waits for the hand-off, or after it handed the
// ended run over for good, so no copy of the map is kept.
func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}

// execute is the run side: the handler, then the shutdown functions, the
// final flush, the release hooks, and the hand-back to the connection side.
func (rn *Run) execute(h http.Handler) {
	out := rn.callHandler(h)
	ex := rn.ex
	switch out {
	case outcomeNormal:
	default:
		// Nothing more reaches the client: the response is cut short,
		// answered by the connection side, or the client is gone.
		ex.stack.SetSink(discardSink{})
	}
	if rn.Phase() != PhaseFinished {
		rn.phase.Store(uint32(PhaseShutdown))
	}
	rn.runShutdown()
	rn.runRelease()
	ex.sink.deferLast = true
	if err := ex.stack.EndAll(); err != nil {
		rn.cfg.log().Debug("lifeline: final flush", "run", rn.id, "err", err)
	}
	if !ex.released && ex.handOver(out) {
		return // the connection side ends the run
	}
	rn.pool.endRun(rn)
}

// callHandler runs the handler and turns every way it can end into an outcome.
func (rn *Run) callHandler(h http.Handler) (out outcome) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		sent := rn.ex.stack.HeadersSent()
		switch {
		case v == ErrTerminated || isErr(v, ErrTerminated):
			stopped := rn.Status()&Timeout != 0 || rn.stop.Load()
			switch {
			case stopped && sent:
				out = outcomeAbortStream
			case stopped:
				out = outcomeTimeout
			default:
				out = outcomeGone
			}
		case v == http.ErrAbortHandler:
			out = outcomeAbortStream
		default:
			rn.mu.Lock()
			rn.panicked = true // a real panic, not a termination
			rn.mu.Unlock()
			buf := make([]byte, 16<<10)
			buf = buf[:runtime.Stack(buf, false)]
			rn.pool.stats.panics.Add(1)
			rn.cfg.log().Error("lifeline: handler panic", "run", rn.id, "method", rn.req.Method,
				"uri", rn.req.RequestURI, "panic", v, "stack", string(buf))
			if sent {
				out = outcomeAbortStream
			} else {
				out = outcomePanic
			}
		}
		if rn.Phase() == PhaseFinished {
			out = outcomeNormal // the response is already complete
		}
	}()
	h.ServeHTTP(&rn.ex.writer, rn.req)
	return outcomeNormal
}

func isErr(v any, target error) bool {
	err, ok := v.(error)
	return ok && errors.Is(err, target)
}

// runShutdown runs the shutdown functions in order, including those they
// register, each at most once, each with its panics recovered.
func (rn *Run) runShutdown() {
	var ctx context.Context
	var cancel context.CancelFunc
	for i := 0; ; i++ {
		rn.mu.Lock()
		if i >= len(rn.shutdowns) {
			rn.shutdowns = nil
			rn.ranShutdown = i
			rn.mu.Unlock()
			break
		}
		fn := rn.shutdowns[i]
		if ctx == nil {
			ctx, cancel = rn.shutdownContextLocked()
		}
		rn.mu.Unlock()
		if !rn.safeCall("shutdown function", func() { fn(ctx, rn) }) {
			rn.pool.stats.shutdownPanics.Add(1)
		}
	}
	if cancel != nil {
		cancel()
	}
}

// shutdownContextLocked returns the context shutdown functions get: not
// cancelled by the abort or timeout, bounded by what is left of the time
// limit or, after a timeout, by the shutdown budget (PHP's hard_timeout).
func (rn *Run) shutdownContextLocked() (context.Context, context.CancelFunc) {
	base := context.WithoutCancel(rn.origCtx)
	var budget time.Duration
	switch rn.timerMode {
	case timerLimit:
		budget = time.Until(rn.deadline)
	case timerGrace, timerExpired:
		budget = rn.cfg.shutdownBudget
	}
	if budget <= 0 && rn.timerMode != timerOff {
		budget = rn.cfg.shutdownBudget
	}
	if budget <= 0 {
		return context.WithCancel(base)
	}
	return context.WithTimeout(base, budget)
}

// safeCall runs fn, recovering and logging a panic. It reports whether fn
// returned normally. ErrTerminated from a shutdown function ends it quietly.
func (rn *Run) safeCall(what string, fn func()) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			ok = false
			if v == ErrTerminated {
				return
			}
			buf := make([]byte, 16<<10)
			buf = buf[:runtime.Stack(buf, false)]
			rn.cfg.log().Error("lifeline: panic in "+what, "run", rn.id, "panic", v, "stack", string(buf))
		}
	}()
	fn()
	return true
}

// callerOf returns the first caller outside this package, for logs.
func callerOf() (string, int) {
	var pcs [16]uintptr
	n := runtime.Callers(3, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "github.com/lifeline-go/lifeline.") || strings.HasSuffix(f.File, "_test.go") {
			return f.File, f.Line
		}
		if !more {
			return "", 0
		}
	}
}
