package lifeline

import (
	"net/http"
	"time"
)

// connSide is the connection side of one run: net/http's ServeHTTP
// goroutine. It owns the client's ResponseWriter and lends it to the run side
// (see exchange); it alone answers for the run (a timeout response, a 500,
// a cut response), hijacks, and returns to net/http, after which nobody
// touches w again. Its methods are called only on that goroutine, from
// route.serve; the run side never calls them.
//
// net/http's TimeoutHandler makes the same split between timeoutHandler (the
// connection side) and timeoutWriter (the handler's side).
type connSide struct {
	rn *Run
	ex *exchange
	w  http.ResponseWriter // the client's; ours whenever the run side does not hold ex.mu
	r  *http.Request       // the request as net/http gave it
	cw *connWatch          // the detector's watch of the connection, or nil

	ctxDone    <-chan struct{} // the request context's, while it matters (see loop)
	overtimeAt time.Time       // when writes got their deadline past the time limit
}

// loop is the connection side's loop. It reports whether the response
// must be cut short, and whether the run ended and is the connection
// side's to end (Pool.endRun, which the caller calls). While it is parked
// here the run side may be writing to w; every case that touches w takes
// it back first.
//
// The loop's frame is kept small, and the rare cases are functions of
// their own: it runs on net/http's goroutine, which for HTTP/2 is a new
// one per request, whose stack is copied each time it has to grow.
func (c *connSide) loop() (abortStream, ended bool) {
	ex := c.ex
	// The request's context is cancelled when the client goes. Over
	// plain HTTP/1 with the detector's watch, that is the connection's FIN
	// or RST, which the watch reports itself (sooner, and even while the
	// body is unread): not asking for the context's channel saves its
	// allocation and lets the loop park on one channel. A stream reset of
	// HTTP/2, and a TLS close_notify sent without closing the socket, are
	// seen only through the context.
	if c.cw == nil || c.r.ProtoMajor != 1 || c.r.TLS != nil {
		c.ctxDone = c.r.Context().Done()
	}
	for {
		ev := ex.ev.Load()
		switch {
		case ev&evDone != 0:
			// The run side has gone: the exchange and the run are ours.
			ex.take()
			abortStream = c.answer(ex.msg.outcome, ex.wroteHeader, ex.overtime.Load())
			ex.users.Add(-1) // the run side left; endRun puts it back
			return abortStream, true
		case ev&evRelease != 0:
			// The run side took w back itself (Finish) and goes on
			// with the exchange: it is not ours to touch any more.
			rn := c.rn
			rn.releaseDelivery(c.cw) // delivery.go
			ex.drop(rn.pool)
			return false, false
		case ev&evHijack != 0:
			ex.ev.And(^uint32(evHijack))
			if rn := c.rn; c.hijack() {
				ex.drop(rn.pool)
				return false, false
			}
		case ev&evAlarm != 0:
			ex.ev.And(^uint32(evAlarm))
			if c.runaway() {
				if !ex.leave() {
					continue // the run side handed the response over first
				}
				return c.answerRunaway(), false
			}
			c.alarm()
		case c.ctxDone == nil:
			<-ex.wake
		default:
			c.park()
		}
	}
}

// hijack answers the run side's Hijack, which waits for the answer: it is
// not writing. It reports whether the connection was handed over.
//
//go:noinline
func (c *connSide) hijack() bool {
	ex := c.ex
	conn, brw, err := http.NewResponseController(c.w).Hijack()
	if err == nil {
		ex.take()
		ex.msg.conn, ex.msg.brw = conn, brw
		ex.ack <- nil
		return true
	}
	ex.ack <- err
	return false
}

// park waits for a signal of the run side or the timers, or for the
// request's context to end.
//
//go:noinline
func (c *connSide) park() {
	select {
	case <-c.ex.wake:
	case <-c.ctxDone:
		c.ctxDone = nil
		if c.ex.overtime.Load() || c.ex.revoked.Load() {
			// Our own cut (a write deadline past the time limit, or
			// taking w back) ended the stream: the client did not leave.
			return
		}
		cause := CauseClosed
		if c.cw != nil {
			cause = c.cw.classify()
		}
		c.rn.abort(cause)
	}
}

// alarm looks at a run that is not runaway after an alarm: a write may be
// stuck on a client that does not read. Past the stall timeout the client
// is taken as gone. Past the time limit, the run must stop at its next
// output, and a write in flight or begun since gets a short write
// deadline: one that completes is not cut, one that is stuck fails.
//
//go:noinline
func (c *connSide) alarm() {
	rn, ex, w := c.rn, c.ex, c.w
	if ex.stalledFor(rn.conf().stallTimeout) {
		rn.abort(CauseStalled)
		ex.revoke(w, c.cutter())
		return // the run's output is discarded; its end finds the response cut
	}
	if rn.Status()&Timeout == 0 {
		return
	}
	ot := rn.conf().overtime()
	switch {
	case !ex.overtime.Load():
		ex.overtime.Store(true)
		c.overtimeAt = time.Now()
		_ = http.NewResponseController(w).SetWriteDeadline(c.overtimeAt.Add(ot))
		// Look again when it passes: not every writer wakes at a
		// deadline in the future (seen with TLS), every one does at
		// one in the past.
		time.AfterFunc(ot, func() {
			if ex.cur.Load() == rn {
				ex.kickConn()
			}
		})
	case ex.writing.Load() && time.Since(c.overtimeAt) >= ot:
		ex.revoke(w, c.cutter())
	}
}

// answerRunaway answers for a run that ignored its time limit and grace
// period, and lets it go on alone, counted as runaway. The connection side
// has left the exchange (exchange.leave).
func (c *connSide) answerRunaway() (abortStream bool) {
	ex, w, r := c.ex, c.w, c.r
	woke := ex.revoke(w, c.cutter())
	if r.ContentLength != 0 {
		// The run may be stuck reading the body, holding its lock: net/http
		// would wait for that lock to discard the rest of the body before
		// answering (and a slow client could make it wait for ever). Close
		// after the answer, and wake the reader with a deadline in the past.
		w.Header().Set("Connection", "close")
		_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	}
	return c.answer(outcomeTimeout, ex.wroteHeader, woke || ex.overtime.Load())
}

// cutter returns what cuts the client's connection when a stuck write must
// be abandoned: HTTP/1 only (an HTTP/2 stream is reset on its own, and the
// connection carries other streams), and only with the detector's watch.
func (c *connSide) cutter() func() {
	if c.cw == nil || c.r.ProtoMajor != 1 {
		return nil
	}
	return c.cw.cut
}

// runaway reports whether the grace period after the time limit expired.
func (c *connSide) runaway() bool {
	c.rn.mu.Lock()
	defer c.rn.mu.Unlock()
	return c.rn.timerMode == timerExpired
}

// answer finishes the response on the connection side for how the run ended.
// deadlineSet says that the connection side set a write deadline (to take
// w back, or past the time limit). It gets the exchange's state from its
// caller, not through c.ex: after a runaway the run side may end the run,
// and reuse the exchange, at the same time.
func (c *connSide) answer(out outcome, wroteHeader, deadlineSet bool) (abortStream bool) {
	rn, w, r := c.rn, c.w, c.r
	if rn.Aborted() && !rn.released() {
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
