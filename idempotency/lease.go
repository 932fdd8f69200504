package idempotency

import (
	"context"
	"time"
)

// leaseKey is the context key of a request's *Lease.
type leaseKey struct{}

// Lease is the reservation of the idempotency key that a request runs
// under, as the protected handler sees it through [LeaseFromContext]. The
// middleware renews it while the handler runs and completes or releases it
// when the handler returns. A handler needs it only to record its answer in
// its own database transaction, through a transactional store such as
// sqlstore (Store.CompleteTx), and to learn when it was lost.
//
// Its methods may be called from any goroutine.
type Lease struct {
	g *guard
}

// LeaseFromContext returns the lease of the key that the request of ctx
// runs under, and whether there is one: a request that the middleware
// passed through (no key, or a method it does not protect) has none.
func LeaseFromContext(ctx context.Context) (*Lease, bool) {
	l, ok := ctx.Value(leaseKey{}).(*Lease)
	return l, ok
}

// Key is the key as the store keeps it: the client's key, prefixed with the
// principal when [WithPrincipal] is set.
func (l *Lease) Key() string { return l.g.key }

// Token is the random token that identifies this run's reservation in the
// store; only the run that holds it may renew, complete or release the key.
func (l *Lease) Token() string { return l.g.token }

// TTL is how long the key's record is kept once completed ([WithTTL]).
func (l *Lease) TTL() time.Duration { return l.g.m.opts.ttl }

// Lost returns a channel that is closed if a renewal finds that the
// reservation is no longer this run's: its lease ran out (the store was
// unreachable for longer than [WithLease]) and another request may run with
// the key. A run with side effects outside a transactional store should
// stop. The channel is never closed for a run that keeps its reservation.
func (l *Lease) Lost() <-chan struct{} { return l.g.lostChan() }

// Seal is the building block of transactional stores; handlers do not call
// it. It returns the record to store in the handler's own transaction: rec,
// or, when rec is nil, the response the handler has written so far (writes
// after Seal are not recorded). From then on the middleware no longer
// renews the lease nor completes the key itself: the transaction does, and
// a takeover needs the token that transaction checks. When the handler
// returns (or at lifeline.Run.Finish) the middleware releases the key if
// it is still reserved, which happens only when the transaction did not
// commit, so that a retry runs again.
//
// Seal returns an error matching [ErrReservationLost] if it was called
// before, or if the key was already completed or released (after Finish,
// for example).
func (l *Lease) Seal(rec *Record) (*Record, error) { return l.g.seal(rec) }
