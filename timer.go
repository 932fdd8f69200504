package lifeline

import (
	"sync"
	"time"
)

// A run's clocks. Each exchange owns two timers that outlive its runs (the
// exchange is pooled), so both callbacks go through ex.cur, the run the
// exchange serves now, and do nothing when it is nil.
//
// The time-limit timer (ex.timer) is a small state machine kept in
// Run.timerMode under Run.mu:
//
//	timerOff ──SetTimeLimit(d>0)──▶ timerLimit ──fires──▶ timerGrace ──fires──▶ timerExpired
//	    ▲                               │
//	    └────────SetTimeLimit(0)────────┘
//
//   - timerLimit: the limit is armed until Run.deadline. SetTimeLimit
//     restarts it; a firing that lost the race with SetTimeLimit finds the
//     deadline in the future and re-arms for the rest.
//   - expiry: the Timeout bit goes on, the run context is cancelled with
//     ErrTimeLimit, the run is terminated at its next output, and, if a
//     write is in flight (it may be stuck on a client that does not read),
//     the connection side is kicked to take the ResponseWriter back.
//   - timerGrace → timerExpired: the run ignored its limit for the grace
//     period; it is runaway, and the connection side answers for it.
//     timerExpired is the one record of a runaway: it never changes again.
//   - A nested route's WithTimeLimit (Run.adjust) arms the limit counted
//     from the run's start; Finish with WithBackgroundLimit re-arms it from
//     Finish.
//
// Most runs end long before their limit, so a run's first limit longer
// than armDelay is armed late: newRun sets the deadline and timerMode and
// queues the run (Run.timerLate); the pool's arming tick (armTick, every
// armDelay while runs are queued) arms the timers of those still running
// then, for what is left of their limit. A run that ends sooner never
// touches its timer. A shorter limit is armed by newRun at once, or it
// would expire up to armDelay late. Any later change of the limit (SetTimeLimit, a nested route, Finish with
// WithBackgroundLimit) arms the timer at once.
//
// Pool.endRun stops the timer if it was armed; when Stop reports that the
// callback may be running right now, the exchange gets a fresh timer instead
// of sharing the old one with the next run.
//
// The stall timer (ex.stall) bounds one call on the ResponseWriter (see
// WithStallTimeout). It is armed at a run's first write, only when the stall
// bound can matter (a time limit and grace period that end sooner make it
// moot), and looks at ex.writeStart every stall period: a call older than
// the bound kicks the connection side, which aborts the run with
// CauseStalled and takes the ResponseWriter back.

// newLimitTimer returns a stopped time-limit timer for ex.
func (ex *exchange) newLimitTimer() *time.Timer {
	t := time.AfterFunc(time.Hour, ex.onTimer)
	t.Stop()
	return t
}

func (ex *exchange) onTimer() {
	if rn := ex.cur.Load(); rn != nil {
		rn.onTimer()
	}
}

// armLocked (re)starts the time limit from now; rn.mu must be held.
func (rn *Run) armLocked(d time.Duration) {
	now := time.Now()
	rn.armFromLocked(d, now, now)
}

// armFromLocked arms the time limit d counted from from; rn.mu must be held.
// A deadline already past fires at once.
func (rn *Run) armFromLocked(d time.Duration, from, now time.Time) {
	rn.timerLate = false
	rn.limit = d
	rn.needStallLocked(d)
	if d == 0 {
		rn.timerMode = timerOff
		rn.ex.timer.Stop()
		return
	}
	rn.timerMode = timerLimit
	rn.deadline = from.Add(d)
	rn.ex.timer.Reset(rn.deadline.Sub(now))
}

// armDelay is how long a run's first time limit waits before its timer is
// armed: runs that end sooner never arm it. A limit of armDelay or less is
// armed at once (newRun), so that it does not expire late.
const armDelay = 5 * time.Millisecond

// lateArms are the runs whose first time limit is not armed yet.
type lateArms struct {
	mu      sync.Mutex
	pending []*Run
	spare   []*Run
	tick    *time.Timer // runs armTick; nil until first needed
	ticking bool        // tick is armed
}

// armLate sets the run's first time limit d from start and queues the run
// for the arming tick. The run is not yet seen by any other goroutine.
func (p *Pool) armLate(rn *Run, d time.Duration, start time.Time) {
	rn.limit = d
	rn.needStallLocked(d)
	rn.timerMode = timerLimit
	rn.deadline = start.Add(d)
	rn.timerLate = true
	la := &p.late
	la.mu.Lock()
	la.pending = append(la.pending, rn)
	if !la.ticking {
		la.ticking = true
		if la.tick == nil {
			la.tick = time.AfterFunc(armDelay, p.armTick)
		} else {
			la.tick.Reset(armDelay)
		}
	}
	la.mu.Unlock()
}

// armTick arms the timers of the queued runs that still wait for theirs.
func (p *Pool) armTick() {
	la := &p.late
	la.mu.Lock()
	runs := la.pending
	la.pending, la.spare = la.spare[:0], nil
	la.mu.Unlock()
	now := time.Now()
	for _, rn := range runs {
		if rn.Phase() == PhaseDone {
			continue // most runs: ended before their timer mattered
		}
		rn.mu.Lock()
		if rn.timerLate {
			rn.timerLate = false
			if rn.timerMode == timerLimit && rn.ex != nil {
				rn.ex.timer.Reset(rn.deadline.Sub(now))
			}
		}
		rn.mu.Unlock()
	}
	clear(runs)
	la.mu.Lock()
	la.spare = runs[:0]
	if len(la.pending) > 0 {
		la.tick.Reset(armDelay)
	} else {
		la.ticking = false
	}
	la.mu.Unlock()
}

// needStallLocked notes whether the stall bound can matter with the time
// limit d: only when the limit and grace period do not end a stuck write
// sooner. rn.mu must be held.
func (rn *Run) needStallLocked(d time.Duration) {
	cfg := rn.conf()
	if s := cfg.stallTimeout; s > 0 && (d == 0 || d+cfg.gracePeriod > s) {
		rn.stallNeeded.Store(true)
	}
}

// onTimer is the time limit's timer callback.
func (rn *Run) onTimer() {
	rn.mu.Lock()
	if rn.ex == nil {
		rn.mu.Unlock()
		return
	}
	ex := rn.ex
	switch rn.timerMode {
	case timerLimit:
		if now := time.Now(); now.Before(rn.deadline) {
			ex.timer.Reset(rn.deadline.Sub(now)) // a stale firing after SetTimeLimit
			rn.mu.Unlock()
			return
		}
		rn.status.Or(uint32(Timeout))
		rn.attend()
		if rn.cause == CauseNone {
			rn.cause = CauseTimeLimit
		}
		rn.timerMode = timerGrace
		ex.timer.Reset(rn.conf().gracePeriod)
		rn.mu.Unlock()
		rn.pool.stats.timeLimitHits.Add(1)
		rn.emit(EventTimeLimit, CauseNone, DeliveryUnknown) // before the shutdown functions the cancellation starts
		rn.cancelCtx(ErrTimeLimit)
		if ex.writing.Load() {
			ex.kickConn()
		}
	case timerGrace:
		rn.timerMode = timerExpired
		rn.mu.Unlock()
		rn.pool.stats.runaway.Add(1)
		rn.conf().log().Error("lifeline: runaway run: still running after its time limit and grace period",
			"run", rn.id, "method", rn.req.Method, "uri", rn.req.RequestURI, "limit", rn.limit, "grace", rn.conf().gracePeriod)
		rn.emit(EventRunaway, CauseNone, DeliveryUnknown)
		ex.kickConn()
	default:
		rn.mu.Unlock()
	}
}

// kickConn tells the connection side to look at the run: it may have run
// away, or a write may be stuck.
func (ex *exchange) kickConn() { ex.signal(evAlarm) }

// stallTimer is the stall bound's timer, reused by the runs of one exchange
// while its callback is known not to run (see stopTimers).
type stallTimer struct {
	ex *exchange
	rn *Run // the run it was armed for
	t  *time.Timer
}

// armStall starts the stall timer for the run's first write. Run side,
// inside acquire.
func (ex *exchange) armStall(rn *Run) {
	ex.stallArmed = true
	if ex.stall == nil {
		st := &stallTimer{ex: ex}
		st.t = time.AfterFunc(time.Hour, st.fire)
		st.t.Stop()
		ex.stall = st
	}
	ex.stall.rn = rn
	ex.stall.t.Reset(rn.conf().stallTimeout)
}

// fire kicks the connection side when a call on the ResponseWriter has
// lasted the stall timeout, and looks again one period later either way
// (the run may write for a long time).
func (st *stallTimer) fire() {
	ex, rn := st.ex, st.rn
	if ex.cur.Load() != rn {
		return // the run ended
	}
	d := rn.conf().stallTimeout
	if start := ex.writeStart.Load(); start != 0 {
		left := time.Duration(start + int64(d) - time.Now().UnixNano())
		if left > 0 {
			st.t.Reset(left)
			return
		}
		ex.kickConn()
	}
	st.t.Reset(d)
}

// stalledFor reports whether the call in flight on the ResponseWriter has
// lasted at least d.
func (ex *exchange) stalledFor(d time.Duration) bool {
	start := ex.writeStart.Load()
	return d > 0 && start != 0 && time.Now().UnixNano()-start >= int64(d)
}

// stopTimers stops both timers at the end of the run. A timer whose callback
// may be running now is replaced, so it cannot act on the exchange's next
// run. late says that the time limit's timer was never armed.
func (ex *exchange) stopTimers(runaway, late bool) {
	if !late && !ex.timer.Stop() && !runaway {
		ex.timer = ex.newLimitTimer()
	}
	if ex.stall != nil && ex.stallArmed && !ex.stall.t.Stop() {
		ex.stall = nil
	}
}
