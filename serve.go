package lifeline

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"time"
)

// serveConn is the connection side's loop. It reports whether the response
// must be cut short. While it is parked here the run side may be writing to
// w; every case that touches w takes it back first.
func (rn *Run) serveConn(w http.ResponseWriter, r *http.Request, ex *exchange, cw *connWatch) (abortStream bool) {
	ctxDone := r.Context().Done()
	var overtimeAt time.Time // when writes got their deadline past the time limit
	for {
		select {
		case kind := <-ex.req:
			m := &ex.msg // read only where the run side waits (hijack) or is gone (done)
			switch kind {
			case msgHijack:
				// The run side waits for the answer: it is not writing.
				conn, brw, err := http.NewResponseController(w).Hijack()
				if err == nil {
					ex.take()
					m.conn, m.brw = conn, brw
					ex.ack <- nil
					return false
				}
				ex.ack <- err
			case msgRelease:
				// The run side took w back itself (Finish) and goes on
				// with the exchange: it is not ours to touch any more.
				if cw != nil && rn.dlv.isPending() {
					rn.pool.flushWaits.Add(1)
					cw.awaitFlush(&rn.dlv) // net/http flushes after we return
				}
				return false
			case msgDone:
				// The run side has gone: the exchange and the run are ours.
				ex.take()
				abort := rn.answer(w, r, m.outcome, ex.wroteHeader, ex.overtime.Load())
				rn.pool.endRun(rn)
				return abort
			}
		case <-ctxDone:
			ctxDone = nil
			if ex.overtime.Load() || ex.revoked.Load() {
				// Our own cut (a write deadline past the time limit, or
				// taking w back) ended the stream: the client did not leave.
				continue
			}
			cause := CauseClosed
			if cw != nil {
				cause = cw.classify()
			}
			rn.abort(cause)
		case <-ex.alarm:
			if rn.isRunaway() {
				return rn.answerRunaway(w, r, ex)
			}
			// A write may be stuck on a client that does not read. Past
			// the stall timeout the client is taken as gone. Past the time
			// limit, the run must stop at its next output, and a write
			// in flight or begun since gets a short write deadline: one
			// that completes is not cut, one that is stuck fails.
			if ex.stalledFor(rn.conf().stallTimeout) {
				rn.abort(CauseStalled)
				ex.revoke(w, rn.cutter(r))
				continue // the run's output is discarded; its end finds the response cut
			}
			if rn.Status()&Timeout == 0 {
				continue
			}
			ot := rn.conf().overtime()
			switch {
			case !ex.overtime.Load():
				ex.overtime.Store(true)
				overtimeAt = time.Now()
				_ = http.NewResponseController(w).SetWriteDeadline(overtimeAt.Add(ot))
				// Look again when it passes: not every writer wakes at a
				// deadline in the future (seen with TLS), every one does at
				// one in the past.
				time.AfterFunc(ot, func() {
					if ex.cur.Load() == rn {
						ex.kickConn()
					}
				})
			case ex.writing.Load() && time.Since(overtimeAt) >= ot:
				ex.revoke(w, rn.cutter(r))
			}
		}
	}
}

// answerRunaway answers for a run that ignored its time limit and grace
// period, and lets it go on alone, counted as runaway.
func (rn *Run) answerRunaway(w http.ResponseWriter, r *http.Request, ex *exchange) (abortStream bool) {
	ex.closed = true
	close(ex.gone)
	woke := ex.revoke(w, rn.cutter(r))
	if r.ContentLength != 0 {
		// The run may be stuck reading the body, holding its lock: net/http
		// would wait for that lock to discard the rest of the body before
		// answering (and a slow client could make it wait for ever). Close
		// after the answer, and wake the reader with a deadline in the past.
		w.Header().Set("Connection", "close")
		_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	}
	return rn.answer(w, r, outcomeTimeout, ex.wroteHeader, woke || ex.overtime.Load())
}

// cutter returns what cuts the client's connection when a stuck write must
// be abandoned: HTTP/1 only (an HTTP/2 stream is reset on its own, and the
// connection carries other streams), and only with the detector's watch.
func (rn *Run) cutter(r *http.Request) func() {
	if rn.cw == nil || r.ProtoMajor != 1 {
		return nil
	}
	return rn.cw.cut
}

// isRunaway reports whether the grace period after the time limit expired.
func (rn *Run) isRunaway() bool {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.runaway
}

// answer finishes the response on the connection side for how the run ended.
// deadlineSet says that the connection side set a write deadline (to take
// w back, or past the time limit). It gets the exchange's state from its
// caller, not through rn.ex: after a runaway the run side may end the run,
// and clear rn.ex, at the same time.
func (rn *Run) answer(w http.ResponseWriter, r *http.Request, out outcome, wroteHeader, deadlineSet bool) (abortStream bool) {
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
		if deadlineSet {
			// Nothing was written: the deadline was set for a write
			// that did not happen.
			_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
		}
		if out == outcomeTimeout {
			rn.code.Store(http.StatusServiceUnavailable)
			if h := rn.conf().timeoutHandler; h != nil {
				h.ServeHTTP(w, r)
				return false
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("lifeline: time limit exceeded\n"))
			return false
		}
		rn.code.Store(http.StatusInternalServerError)
		http.Error(w, "500 internal server error", http.StatusInternalServerError)
		return false
	case outcomeAbortStream:
		return true
	}
	return false
}

// copyHeader replaces dst's fields with src's. It runs on the run side,
// under the exchange's lock, as the header goes out; the run side's map is
// not touched by anyone else meanwhile, so no copy of it is kept.
func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}

// execute is the run side: the handler, then the shutdown functions, the
// release hooks, the final flush, and the hand-back to the connection side.
func (rn *Run) execute(h http.Handler) {
	out := rn.callHandler(h)
	ex := rn.ex
	if out != outcomeNormal {
		// Nothing more reaches the client: the response is cut short,
		// answered by the connection side, or the client is gone.
		ex.stack.SetSink(discardSink{})
	}
	if rn.Phase() != PhaseFinished {
		rn.phase.Store(uint32(PhaseShutdown))
	}
	rn.runShutdown()
	rn.runRelease()
	out = rn.endOutput(out)
	if !ex.released && ex.post(msgDone, out) {
		return // the connection side ends the run
	}
	rn.pool.endRun(rn)
}

// endOutput flushes every output buffer with the final phase and ends the
// response on the run side. An output handler that panics here (a
// compressor's final flush, say) is logged; the client then gets a 500 if
// nothing was sent, a cut response otherwise.
func (rn *Run) endOutput(out outcome) outcome {
	ex := rn.ex
	ex.sink.final = true
	if !rn.endAll() {
		ex.stack.SetSink(discardSink{})
		ex.sink.pendingCode, ex.sink.pendingHeader = 0, nil
		if out == outcomeNormal && !ex.released {
			out = outcomePanic
		}
		if ex.stack.HeadersSent() && out == outcomePanic {
			out = outcomeAbortStream
		}
		return out
	}
	if !ex.released {
		ex.sink.finishResponse()
	}
	return out
}

// endAll runs the stack's EndAll, recovering a panic of an output handler.
// It reports whether EndAll returned normally.
func (rn *Run) endAll() (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			ok = false
			rn.markPanicked()
			rn.conf().log().Error("lifeline: panic in the final output flush", "run", rn.id, "panic", v, "stack", stack())
		}
	}()
	if err := rn.ex.stack.EndAll(); err != nil {
		rn.conf().log().Debug("lifeline: final flush", "run", rn.id, "err", err)
	}
	return true
}

// callHandler runs the handler and turns every way it can end into an outcome.
func (rn *Run) callHandler(h http.Handler) (out outcome) {
	defer func() {
		v := recover()
		if v == nil {
			if rn.terminated.Load() {
				// A recover middleware inside the run swallowed the
				// termination: what it wrote since must not reach the
				// client as a complete response.
				out = rn.terminatedOutcome()
			}
			return
		}
		switch {
		case rn.terminated.Load() && (v == ErrTerminated || isErr(v, ErrTerminated)):
			out = rn.terminatedOutcome()
		case v == http.ErrAbortHandler:
			out = outcomeAbortStream
		default:
			rn.markPanicked()
			rn.conf().log().Error("lifeline: handler panic", "run", rn.id, "method", rn.req.Method,
				"uri", rn.req.RequestURI, "panic", v, "stack", stack())
			if rn.ex.stack.HeadersSent() {
				out = outcomeAbortStream
			} else {
				out = outcomePanic
			}
		}
		if rn.finished.Load() {
			out = outcomeNormal // Finish sent the whole response
		}
	}()
	h.ServeHTTP(&rn.w, rn.req)
	return outcomeNormal
}

// terminatedOutcome is how a terminated run's response ends: complete if
// Finish sent it, a timeout response if the time limit or shutdown stopped
// it before anything was sent, cut short if something was, and nothing at
// all if the client left.
func (rn *Run) terminatedOutcome() outcome {
	stopped := rn.Status()&Timeout != 0 || rn.stop.Load()
	switch {
	case rn.finished.Load():
		return outcomeNormal
	case stopped && rn.ex.stack.HeadersSent():
		return outcomeAbortStream
	case stopped:
		return outcomeTimeout
	}
	return outcomeGone
}

// markPanicked records a real panic of the run's code (not a termination).
func (rn *Run) markPanicked() {
	rn.mu.Lock()
	rn.panicked = true
	rn.mu.Unlock()
	rn.pool.stats.panics.Add(1)
}

// stack returns the current goroutine's stack, for logs. It is never
// inlined: its 16 KiB buffer would otherwise grow the stack of every run
// whose deferred recover merely checks for a panic.
//
//go:noinline
func stack() string {
	buf := make([]byte, 16<<10)
	return string(buf[:runtime.Stack(buf, false)])
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
		budget = rn.conf().shutdownBudget
	}
	if budget <= 0 && rn.timerMode != timerOff {
		budget = rn.conf().shutdownBudget
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
			if v == ErrTerminated && rn.terminated.Load() {
				return
			}
			rn.conf().log().Error("lifeline: panic in "+what, "run", rn.id, "panic", v, "stack", stack())
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
