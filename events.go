package lifeline

import (
	"fmt"
	"time"
)

// EventKind says what happened to a run in an [Event].
type EventKind uint8

// The kinds of [Event]. Each is reported at most once per run.
const (
	// EventFinish: [Run.Finish] has handed the complete response to the
	// connection side. Reported on the run's goroutine.
	EventFinish EventKind = iota + 1
	// EventAbort: the client left (PHP's CONNECTION_ABORTED), with its
	// [Cause]; also when the run ignores user aborts, and after the time
	// limit. Reported on the goroutine that saw it: the pool's detector
	// goroutine, net/http's goroutine for the request, or the run's
	// goroutine when a write failed.
	EventAbort
	// EventTimeLimit: the time limit expired (PHP's CONNECTION_TIMEOUT).
	// Reported on the time limit's timer goroutine.
	EventTimeLimit
	// EventRunaway: the run was still running after its time limit and
	// grace period ([WithGracePeriod]). Reported on the timer goroutine.
	EventRunaway
	// EventPoolShutdown: [Pool.Shutdown] gave up waiting and cancelled the
	// run. Reported on the goroutine that called Shutdown.
	EventPoolShutdown
	// EventShutdownStart: the first shutdown function
	// ([Run.RegisterShutdown]) is about to run. Reported on the run's
	// goroutine, only for runs that registered one.
	EventShutdownStart
	// EventShutdownEnd: the last shutdown function has returned. Reported on
	// the run's goroutine, after EventShutdownStart.
	EventShutdownEnd
	// EventDelivery: whether the response sent by [Run.Finish] reached the
	// client was decided, with the verdict in [Event.Delivery] (see
	// [Run.AwaitDelivery]). Reported on the goroutine that decided it: the
	// pool's detector goroutine, net/http's goroutine, or one asking
	// [Run.Delivery], or [Pool.Shutdown] when its ctx ended first
	// (DeliveryUnknown); it may come after the run ended, but before a
	// Shutdown that saw every run end returns. Runs whose delivery is not tracked (no Finish, a
	// connection the pool does not watch) have none.
	EventDelivery
	eventKindCount
)

// String returns the kind's name: "finish", "abort", "time_limit",
// "runaway", "pool_shutdown", "shutdown_start", "shutdown_end" or
// "delivery".
func (k EventKind) String() string {
	switch k {
	case EventFinish:
		return "finish"
	case EventAbort:
		return "abort"
	case EventTimeLimit:
		return "time_limit"
	case EventRunaway:
		return "runaway"
	case EventPoolShutdown:
		return "pool_shutdown"
	case EventShutdownStart:
		return "shutdown_start"
	case EventShutdownEnd:
		return "shutdown_end"
	case EventDelivery:
		return "delivery"
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// Event is something that happened to a run, reported to the functions given
// with [WithRunEvent] at the moment it happened.
type Event struct {
	RunID    uint64    // the run's [Run.ID]
	Kind     EventKind // what happened
	At       time.Time // when it happened
	Cause    Cause     // EventAbort: why the client is gone; CauseNone otherwise
	Delivery Delivery  // EventDelivery: the verdict; DeliveryUnknown otherwise
}

// emit reports an event of kind k to the pool's WithRunEvent functions,
// once per run and kind. A pool without them pays one length check.
func (rn *Run) emit(k EventKind, c Cause, d Delivery) {
	if len(rn.pool.cfg.onEvent) == 0 {
		return
	}
	rn.emitSlow(k, c, d, nil)
}

// emitSlow is emit for a pool with WithRunEvent functions. dl is the
// delivery whose verdict an EventDelivery reports: it leaves the pool's
// undecided ones once the event has passed the gate.
//
//go:noinline
func (rn *Run) emitSlow(k EventKind, c Cause, d Delivery, dl *delivery) {
	p := rn.pool
	bit := uint32(1) << k
	if rn.emitted.Or(bit)&bit != 0 {
		if dl != nil {
			p.undecided.remove(dl)
		}
		return // reported before
	}
	// Shutdown waits for the functions through p.hooks; the gate makes
	// every Add happen before its Wait, and drops what comes after it.
	// Shutdown closes it only once no delivery is undecided: a verdict
	// leaves the undecided ones after its Add.
	p.evGate.RLock()
	open := !p.evClosed
	if open {
		p.hooks.Add(1)
	}
	if dl != nil {
		p.undecided.remove(dl)
	}
	p.evGate.RUnlock()
	if !open {
		return
	}
	defer p.hooks.Done()
	ev := Event{RunID: rn.id, Kind: k, At: time.Now(), Cause: c, Delivery: d}
	for _, f := range p.cfg.onEvent {
		rn.safeCall("WithRunEvent function", func() { f(ev) })
	}
}
