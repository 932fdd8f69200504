package lifeline

import (
	"context"
	"net/http"
	"time"
)

// runSide is the run side of one run: the goroutine that calls the handler
// (see worker.go). It owns the output stack and the handler's ResponseWriter
// (runWriter), writes to the client's ResponseWriter only while it holds it
// on loan (runSink, exchange.acquire), and runs, in order, the handler, the
// shutdown functions, the release hooks and the final flush, then hands the
// run back to the connection side. Its methods, like [Run.Finish] and the
// runWriter's, are called only on that goroutine.
type runSide struct {
	rn *Run
	ex *exchange
}

// execute runs the run: the handler, then the shutdown functions, the
// release hooks, the final flush, and the hand-back to the connection side.
func (s runSide) execute() {
	rn, ex := s.rn, s.ex
	out := s.callHandler()
	if out != outcomeNormal {
		// Nothing more reaches the client: the response is cut short,
		// answered by the connection side, or the client is gone.
		ex.stack.SetSink(discardSink{})
	}
	if rn.Phase() != PhaseFinished {
		rn.setPhase(PhaseShutdown)
	}
	s.runShutdown()
	rn.runRelease()
	out = s.endOutput(out)
	if !ex.released && ex.post(msgDone, out) {
		return // the connection side ends the run
	}
	rn.pool.endRun(rn)
}

// endOutput flushes every output buffer with the final phase and ends the
// response on the run side. An output handler that panics here (a
// compressor's final flush, say) is logged; the client then gets a 500 if
// nothing was sent, a cut response otherwise.
func (s runSide) endOutput(out outcome) outcome {
	ex := s.ex
	ex.sink.final = true
	if !s.endAll() {
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
func (s runSide) endAll() (ok bool) {
	rn := s.rn
	defer func() {
		if v := recover(); v != nil {
			ok = false
			rn.markPanicked()
			rn.conf().log().Error("lifeline: panic in the final output flush", "run", rn.id, "panic", v, "stack", stack())
		}
	}()
	if err := s.ex.stack.EndAll(); err != nil {
		rn.conf().log().Debug("lifeline: final flush", "run", rn.id, "err", err)
	}
	return true
}

// callHandler runs the handler and turns every way it can end into an outcome.
func (s runSide) callHandler() (out outcome) {
	rn := s.rn
	defer func() {
		v := recover()
		if v == nil {
			if rn.terminated.Load() {
				// A recover middleware inside the run swallowed the
				// termination: what it wrote since must not reach the
				// client as a complete response.
				out = s.terminatedOutcome()
			}
			return
		}
		switch {
		case rn.terminated.Load() && (v == ErrTerminated || isErr(v, ErrTerminated)):
			out = s.terminatedOutcome()
		case v == http.ErrAbortHandler:
			out = outcomeAbortStream
		default:
			rn.markPanicked()
			rn.conf().log().Error("lifeline: handler panic", "run", rn.id, "method", rn.req.Method,
				"uri", rn.req.RequestURI, "panic", v, "stack", stack())
			if s.ex.stack.HeadersSent() {
				out = outcomeAbortStream
			} else {
				out = outcomePanic
			}
		}
		if rn.released() {
			out = outcomeNormal // Finish sent the whole response
		}
	}()
	rn.h.ServeHTTP(&rn.w, rn.req)
	return outcomeNormal
}

// terminatedOutcome is how a terminated run's response ends: complete if
// Finish sent it, a timeout response if the time limit or shutdown stopped
// it before anything was sent, cut short if something was, and nothing at
// all if the client left.
func (s runSide) terminatedOutcome() outcome {
	rn := s.rn
	stopped := rn.Status()&Timeout != 0 || rn.stop.Load()
	switch {
	case rn.released():
		return outcomeNormal
	case stopped && s.ex.stack.HeadersSent():
		return outcomeAbortStream
	case stopped:
		return outcomeTimeout
	}
	return outcomeGone
}

// runShutdown runs the shutdown functions in order, including those they
// register, each at most once, each with its panics recovered.
func (s runSide) runShutdown() {
	rn := s.rn
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
		if i == 0 {
			rn.emit(EventShutdownStart, CauseNone, DeliveryUnknown)
		}
		if !rn.safeCall("shutdown function", func() { fn(ctx, rn) }) {
			rn.pool.stats.shutdownPanics.Add(1)
		}
	}
	if cancel != nil {
		cancel()
		rn.emit(EventShutdownEnd, CauseNone, DeliveryUnknown)
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
