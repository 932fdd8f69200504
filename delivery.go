package lifeline

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Delivery says whether a run's response reached the client: whether every
// byte of it was written to the connection and acknowledged by the peer's
// TCP stack. Behind a reverse proxy the peer is the proxy: Delivered then
// means the proxy has the whole response, not that the browser does.
type Delivery uint8

// The delivery states.
const (
	// DeliveryUnknown: Lifeline has no view of the socket (not Linux, a
	// server not configured with [Pool.ConfigureServer], HTTP/2, a response
	// that closed its connection, an httptest.ResponseRecorder), the
	// connection was closed before its last acknowledgement was seen (a
	// client that reads its answer and closes at once acknowledges with its
	// FIN), or the run did not track it (see [Run.AwaitDelivery]).
	DeliveryUnknown Delivery = iota
	// DeliveryPending: the response is complete but not yet acknowledged.
	DeliveryPending
	// Delivered: the connection's acknowledged byte count has passed the
	// response's last byte.
	Delivered
	// Undelivered: the connection ended, was cut, or its peer went silent
	// before the response's last byte was acknowledged, or the client left
	// before the response was complete.
	Undelivered
)

// String returns "unknown", "pending", "delivered" or "undelivered".
func (d Delivery) String() string {
	switch d {
	case DeliveryUnknown:
		return "unknown"
	case DeliveryPending:
		return "pending"
	case Delivered:
		return "delivered"
	case Undelivered:
		return "undelivered"
	}
	return fmt.Sprintf("delivery(%d)", uint8(d))
}

// delivery is a run's delivery tracking. It is armed by Finish on an HTTP/1
// connection the pool watches (the run goes on after its response, so code
// may ask), and its target is taken when net/http has flushed the response
// (the connection goes idle), so runs that never finish early pay nothing.
type delivery struct {
	mu     sync.Mutex // guards the fields below
	armed  bool
	state  Delivery // final once Delivered or Undelivered
	target int64    // the connection's byte position after the response; -1 until known
	cw     *connWatch
	known  chan struct{} // closed when target or a final state is known; nil until asked

	unpinned bool // the watch's pin was released by fire
}

// arm starts tracking for a response on cw. Run side, at Finish.
func (d *delivery) arm(cw *connWatch) {
	d.mu.Lock()
	d.armed, d.state, d.target, d.cw = true, DeliveryPending, -1, cw
	d.mu.Unlock()
}

// isPending reports whether the response is tracked and undecided.
func (d *delivery) isPending() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.armed && d.state == DeliveryPending
}

// flushed records that net/http has written the whole response: the
// connection's position now is the response's last byte.
func (d *delivery) flushed(pos int64, ok bool) {
	d.mu.Lock()
	if d.state != DeliveryPending {
		d.mu.Unlock()
		return
	}
	if ok {
		d.target = pos
	} else {
		d.state = DeliveryUnknown
	}
	d.wakeLocked()
	final := d.state != DeliveryPending
	d.mu.Unlock()
	if final {
		d.cw.unpin(d)
	}
}

// failUnlessAcked decides the delivery when the connection was reset or
// its peer went silent: Delivered if acked covers it, Undelivered otherwise.
// It reports whether it decided. cw.mu is held by the caller (fire), which
// releases the pin: it takes only d.mu.
func (d *delivery) failUnlessAcked(acked int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state != DeliveryPending || d.target < 0 {
		return false
	}
	d.state = Undelivered
	if acked >= d.target {
		d.state = Delivered
	}
	d.wakeLocked()
	d.unpinned = true
	if d.cw.pins > 0 {
		d.cw.pins--
		if d.cw.pins == 0 && len(d.cw.runs) == 0 {
			d.cw.det.deactivate(d.cw)
		}
	}
	return true
}

// decide sets a final state found by a check, unless one was set meanwhile.
func (d *delivery) decide(st Delivery) {
	d.mu.Lock()
	changed := d.state == DeliveryPending && !d.unpinned
	if d.state == DeliveryPending {
		d.state = st
		d.wakeLocked()
	}
	d.mu.Unlock()
	if changed && d.cw != nil {
		d.cw.unpin(d)
	}
}

func (d *delivery) wakeLocked() {
	if d.known != nil {
		close(d.known)
		d.known = nil
	}
}

// sockState is what became of a watched socket (see connWatch.ackedBytes).
type sockState uint8

const (
	sockOpen  sockState = iota
	sockReset           // reset, or given up after unanswered retransmissions
	sockGone            // closed by net/http
)

// Delivery reports the state of the run's response now, without waiting:
// see [Run.AwaitDelivery].
func (rn *Run) Delivery() Delivery {
	d, _ := rn.deliveryNow()
	return d
}

// deliveryNow checks once; wait is a channel to wait on for the target, or
// nil when there is nothing to wait for but polling.
func (rn *Run) deliveryNow() (Delivery, <-chan struct{}) {
	if rn.Aborted() && !rn.released() {
		return Undelivered, nil // the client left before the response was complete
	}
	d := &rn.dlv
	d.mu.Lock()
	if !d.armed || d.state != DeliveryPending {
		st := d.state
		d.mu.Unlock()
		return st, nil
	}
	if d.target < 0 {
		if d.known == nil {
			d.known = make(chan struct{})
		}
		known := d.known
		d.mu.Unlock()
		return DeliveryPending, known
	}
	target, cw := d.target, d.cw
	d.mu.Unlock()
	// The socket is asked without d.mu: the watch's lock is taken first
	// elsewhere (fire → fail).
	switch acked, st := cw.ackedBytes(); {
	case acked >= target:
		d.decide(Delivered)
	case st == sockReset:
		d.decide(Undelivered) // what was not acknowledged by now never will be
	case st == sockGone:
		// net/http closed the socket before a last acknowledgement was
		// seen: a client that read everything and closed at once sends
		// its last ACK with its FIN. Not knowing is not a failure.
		d.decide(DeliveryUnknown)
	default:
		if c := cw.firedCause(); c == CauseReset || c == CauseSilentPeer {
			d.decide(Undelivered)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state, nil
}

// AwaitDelivery waits until the run's response is known to have reached the
// client ([Delivered]) or not ([Undelivered]), or until ctx is done, and
// returns the state then; the error is ctx's when it ended the wait. It is
// meant for the work after [Run.Finish], in the run or in its shutdown
// functions: the seed recipe's "if the visitor lost his connection, set the
// order as not confirmed", decided from the socket instead of guessed from
// [Run.Aborted] before the answer went out. Bound ctx: a silent peer is
// found by the dead-peer timeout ([ServerConfig]), so a few seconds more than
// that is a good bound.
//
// Delivery is tracked for responses sent by Finish over HTTP/1 on a
// connection the pool watches ([Pool.ConfigureServer], Linux); a run that
// never calls Finish, or an HTTP/2 stream, returns [DeliveryUnknown] at once
// (HTTP/2 streams share their connection's byte count and are not tracked
// yet). It costs nothing for runs that never ask but one socket query per
// early-finished HTTP/1 response.
func (rn *Run) AwaitDelivery(ctx context.Context) (Delivery, error) {
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	wait := time.Millisecond
	for {
		st, known := rn.deliveryNow()
		if st != DeliveryPending {
			return st, nil
		}
		if known != nil {
			select {
			case <-known:
				continue
			case <-ctx.Done():
				return st, ctx.Err()
			}
		}
		if t == nil {
			t = time.NewTimer(wait)
		} else {
			t.Reset(wait)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return st, ctx.Err()
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}
