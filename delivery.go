package lifeline

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
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
	// server not configured with [Pool.ConfigureServer], an
	// httptest.ResponseRecorder, a HEAD request over HTTP/2, an HTTP/2
	// server other than net/http's own, or a Go release whose HTTP/2
	// response writer Lifeline does not recognise), the run did not track
	// it (see [Run.AwaitDelivery]), or net/http closed the connection
	// before the answer was acknowledged and the socket could not be
	// followed past the close: without a dead-peer timeout
	// ([ServerConfig]), or when the peer, alive, still had not
	// acknowledged it a dead-peer timeout after the close.
	DeliveryUnknown Delivery = iota
	// DeliveryPending: the response is complete but not yet acknowledged.
	DeliveryPending
	// Delivered: the connection's acknowledged byte count has passed the
	// response's last byte.
	Delivered
	// Undelivered: the connection ended, was cut, or its peer went silent
	// before the response's last byte was acknowledged, the client reset
	// the HTTP/2 stream first, or the client left before Finish had
	// written the whole response.
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

// delivery is a run's delivery tracking. Finish arms it on a connection the
// pool watches (the run goes on after its response, so code may ask); it
// gets its target, the connection's byte position after the response's
// last byte, when net/http has flushed the response: over HTTP/1 when the
// connection goes idle (see connWatch.connState), over HTTP/2 when the frame
// that ends the stream was written to the socket (see h2conn). It is then
// decided from the socket: Delivered once the acknowledged byte count
// passes the target. Runs that never Finish pay nothing.
type delivery struct {
	mu     sync.Mutex // guards the fields below
	armed  bool
	state  Delivery // final once not DeliveryPending
	target int64    // the connection's byte position after the response; -1 until known
	stream uint32   // the HTTP/2 stream; 0 over HTTP/1
	cw     *connWatch
	known  chan struct{} // closed when target or a final state is known; nil until asked
	rn     *Run          // the run whose response it is, told of the verdict (EventDelivery)
}

// arm starts tracking the response of rn on cw (stream 0: HTTP/1). Run
// side, at Finish.
func (d *delivery) arm(rn *Run, cw *connWatch, stream uint32) {
	d.mu.Lock()
	d.armed, d.state, d.target, d.stream, d.cw, d.rn = true, DeliveryPending, -1, stream, cw, rn
	if len(rn.pool.cfg.onEvent) > 0 {
		rn.pool.undecided.add(d) // its verdict is an event Shutdown waits for
	}
	d.mu.Unlock()
}

// decided reports the verdict st, just reached, as the run's EventDelivery.
// It is called without d.mu.
func (d *delivery) decided(st Delivery) {
	if rn := d.rn; rn != nil && len(rn.pool.cfg.onEvent) > 0 {
		rn.emitSlow(EventDelivery, CauseNone, st, d)
	}
}

// undecided are the armed deliveries of a pool with WithRunEvent functions
// whose verdict was not reported yet: Pool.Shutdown waits for them before it
// stops reporting events, so that every run that finished early gets its
// EventDelivery.
type undecided struct {
	mu    sync.Mutex
	set   map[*delivery]struct{}
	empty chan struct{} // closed when set becomes empty; nil until asked
}

func (u *undecided) add(d *delivery) {
	u.mu.Lock()
	if u.set == nil {
		u.set = make(map[*delivery]struct{})
	}
	u.set[d] = struct{}{}
	u.mu.Unlock()
}

// remove takes d out, once its verdict was reported (or dropped).
func (u *undecided) remove(d *delivery) {
	u.mu.Lock()
	delete(u.set, d)
	if len(u.set) == 0 && u.empty != nil {
		close(u.empty)
		u.empty = nil
	}
	u.mu.Unlock()
}

// emptied returns a channel closed once no delivery is undecided.
func (u *undecided) emptied() <-chan struct{} {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.set) == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	if u.empty == nil {
		u.empty = make(chan struct{})
	}
	return u.empty
}

// list returns the deliveries still undecided.
func (u *undecided) list() []*delivery {
	u.mu.Lock()
	defer u.mu.Unlock()
	l := make([]*delivery, 0, len(u.set))
	for d := range u.set {
		l = append(l, d)
	}
	return l
}

// isPending reports whether the response is tracked and undecided.
func (d *delivery) isPending() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.armed && d.state == DeliveryPending
}

// setTarget records the connection's position after the response's last
// byte (ok), or that it cannot be known (DeliveryUnknown). It reports
// whether the delivery was still undecided.
func (d *delivery) setTarget(pos int64, ok bool) bool {
	d.mu.Lock()
	if d.state != DeliveryPending {
		d.mu.Unlock()
		return false
	}
	if ok {
		d.target = pos
	} else {
		d.state = DeliveryUnknown
	}
	d.wakeLocked()
	d.mu.Unlock()
	if !ok {
		d.decided(DeliveryUnknown)
	}
	return true
}

// judge decides the delivery from the acknowledged count, if it has a
// target: Delivered when acked covers it, else st, which may be
// DeliveryPending (no decision). It returns the state after.
func (d *delivery) judge(acked int64, st Delivery) Delivery {
	d.mu.Lock()
	if d.state != DeliveryPending || d.target < 0 {
		st = d.state
		d.mu.Unlock()
		return st
	}
	if acked >= d.target {
		st = Delivered
	}
	if st == DeliveryPending {
		d.mu.Unlock()
		return st
	}
	d.state = st
	d.wakeLocked()
	d.mu.Unlock()
	d.decided(st)
	return st
}

// decide sets a final state, unless one was set before. It reports whether
// it did.
func (d *delivery) decide(st Delivery) bool {
	d.mu.Lock()
	if d.state != DeliveryPending {
		d.mu.Unlock()
		return false
	}
	d.state = st
	d.wakeLocked()
	d.mu.Unlock()
	d.decided(st)
	return true
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
	sockGone            // closed, and no duplicate descriptor kept
)

// armDelivery arms the run's delivery tracking at Finish, when its
// connection is watched: over HTTP/1 always, over HTTP/2 when the
// connection's frames are followed (see h2conn) and the response's stream
// is known. Run side.
func (rn *Run) armDelivery(ex *exchange) {
	cw := rn.cw
	if cw == nil {
		return
	}
	switch {
	case rn.req.ProtoMajor == 1:
		rn.dlv.arm(rn, cw, 0)
	case rn.req.ProtoMajor == 2 && rn.req.Method != http.MethodHead && cw.h2.Load() != nil:
		// A HEAD response may have ended its stream already, with its
		// header: its end was not followed.
		ex.mu.Lock()
		w := ex.w
		ex.mu.Unlock()
		if id, ok := h2StreamID(w); ok {
			rn.dlv.arm(rn, cw, id)
			cw.track(&rn.dlv)
		}
	}
}

// releaseDelivery hands an armed HTTP/1 delivery to the connection's watch,
// which takes its target when net/http has flushed the response.
// Connection side, at the release of Finish.
func (rn *Run) releaseDelivery(cw *connWatch) {
	if cw == nil || rn.dlv.stream != 0 || !rn.dlv.isPending() {
		return
	}
	rn.pool.flushWaits.Add(1)
	cw.track(&rn.dlv) // net/http flushes after we return
}

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
	cw := d.cw
	d.mu.Unlock()
	// The socket is asked without d.mu: the watch's lock is taken first
	// elsewhere (fire → judge).
	return cw.check(d), nil
}

// AwaitDelivery waits until the run's response is known to have reached the
// client ([Delivered]) or not ([Undelivered]), or until ctx is done, and
// returns the state then; the error is ctx's when it ended the wait. It is
// meant for the work after [Run.Finish], in the run or in its shutdown
// functions: PHP's recipe "if the visitor lost his connection, set the
// order as not confirmed", decided from the socket instead of guessed from
// [Run.Aborted] before the answer went out. Bound ctx: a silent peer is
// found by the dead-peer timeout ([ServerConfig]), so a few seconds more than
// that is a good bound.
//
// Delivery is tracked for responses sent by Finish on a connection the
// pool watches ([Pool.ConfigureServer], Linux), over HTTP/1 and HTTP/2 (with
// net/http's own HTTP/2 server, over TLS and h2c), and decided from the
// connection's acknowledged byte count. A run that never calls Finish, a
// HEAD request over HTTP/2, or a connection the pool does not watch returns
// [DeliveryUnknown] at once. It costs nothing for runs that never call
// Finish; an early-finished response costs a few socket queries.
func (rn *Run) AwaitDelivery(ctx context.Context) (Delivery, error) {
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	wait := 200 * time.Microsecond // about a loopback or LAN round trip
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
		wait = min(2*wait, 10*time.Millisecond)
	}
}

// h2StreamID returns the HTTP/2 stream that w, or the writer it wraps
// (Unwrap, as [http.ResponseController] follows), answers on, if w is
// net/http's own HTTP/2 response writer. net/http does not expose the
// stream, so it is read from the writer's unexported fields (rws.stream.id):
// if a Go release changes them, ok is false and delivery stays unknown.
// Call it while the handler runs (the writer's state is released after).
func h2StreamID(w http.ResponseWriter) (id uint32, ok bool) {
	for w != nil {
		v := reflect.ValueOf(w)
		if t := v.Type(); t.Kind() == reflect.Pointer && t.Elem().PkgPath() == "net/http" && t.Elem().Name() == "http2responseWriter" {
			return h2StreamField(v)
		}
		u, isWrapper := w.(interface{ Unwrap() http.ResponseWriter })
		if !isWrapper {
			return 0, false
		}
		w = u.Unwrap()
	}
	return 0, false
}

// h2StreamField follows rws.stream.id from net/http's HTTP/2 response
// writer v, checking each step.
func h2StreamField(v reflect.Value) (uint32, bool) {
	for _, name := range []string{"rws", "stream"} {
		if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
			return 0, false
		}
		v = v.Elem().FieldByName(name)
		if !v.IsValid() {
			return 0, false
		}
	}
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return 0, false
	}
	id := v.Elem().FieldByName("id")
	if !id.IsValid() || id.Kind() != reflect.Uint32 {
		return 0, false
	}
	// Client-initiated streams are odd (RFC 9113 §5.1.1).
	if n := uint32(id.Uint()); n%2 == 1 {
		return n, true
	}
	return 0, false
}
