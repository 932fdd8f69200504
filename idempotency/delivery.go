package idempotency

import (
	"context"
	"net/http"

	"github.com/lifeline-go/lifeline"
)

// Replay describes a replayed answer, for the function given to
// [WithOnReplay].
type Replay struct {
	// Request is the retry that was answered with the replay.
	Request *http.Request
	// Key is the retry's idempotency key, as the client sent it.
	Key string
	// Record is the answer that was replayed: the response of the run that
	// completed the key. Read-only.
	Record *Record
	// Delivery says whether the replay reached the client: lifeline.Delivered
	// when every byte was acknowledged by the peer's TCP stack,
	// lifeline.Undelivered when the connection ended or the peer went
	// silent first, lifeline.DeliveryPending when neither was known within
	// [WithDeliveryTimeout], and lifeline.DeliveryUnknown where Lifeline
	// cannot see the socket (outside a Lifeline pool, over HTTP/2, on other
	// systems than Linux, behind a proxy: there the peer is the proxy).
	Delivery lifeline.Delivery
}

// replayed tells the application about a replay that was written to the
// client: inside Lifeline, it finishes the run (the answer is complete),
// waits for its delivery, and calls the hook on the run's goroutine, with
// a context that the client's leaving does not cancel.
func (m *Middleware) replayed(r *http.Request, key string, rec *Record) {
	rp := &Replay{Request: r, Key: key, Record: rec, Delivery: lifeline.DeliveryUnknown}
	ctx := context.WithoutCancel(r.Context())
	if rn := runOf(r); rn != nil {
		// A client that left must not end the run before the hook has
		// been told so.
		rn.IgnoreUserAbort(true)
		if err := rn.Finish(); err == nil {
			actx, cancel := context.WithTimeout(ctx, m.opts.deliveryTimeout)
			rp.Delivery, _ = rn.AwaitDelivery(actx)
			cancel()
		}
	}
	m.opts.onReplay(ctx, rp)
}
