package idempotency

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// run executes next for a request whose key it reserved, then completes
// or releases the key. The reservation is renewed while next runs.
func (m *Middleware) run(w http.ResponseWriter, r *http.Request, next http.Handler, body []byte, key, token string) {
	g := &guard{
		m:     m,
		key:   key,
		token: token,
		rec:   recorder{w: w, maxBody: m.opts.maxResponseBody, logger: m.opts.logger},
		base:  context.WithoutCancel(r.Context()),
	}
	g.startRenewal()
	ctx := r.Context()
	if rn := runOf(r); rn != nil {
		if m.opts.ignoreUserAbort {
			rn.IgnoreUserAbort(true)
		}
		// At Finish the response is complete: record it before the client
		// has it, so that its retries are replayed. At the end of the run
		// the hook finds the key already completed below.
		rn.BeforeRelease(g.complete)
	} else if m.opts.ignoreUserAbort {
		ctx = g.base
	}
	r2 := r.WithContext(context.WithValue(ctx, leaseKey{}, &Lease{g: g}))
	if r.Body != nil && r.Body != http.NoBody {
		rb := &restoredBody{orig: r.Body}
		rb.Reset(body)
		r2.Body = rb
	}

	returned := false
	defer func() {
		if returned {
			return
		}
		// A panic, or runtime.Goexit: release the key so that the client
		// may retry, and let the panic go on, whatever its value
		// (lifeline.ErrTerminated and http.ErrAbortHandler included).
		v := recover()
		g.release(g.base, "the handler panicked")
		if v != nil {
			panic(v)
		}
	}()
	next.ServeHTTP(&g.rec, r2)
	returned = true
	g.complete(g.base)
}

// The states of a guard. It starts running; exactly one of complete,
// release and seal moves it on, once; a sealed guard is settled by the
// next complete or release.
const (
	guardRunning int32 = iota
	guardSealed        // the record is being stored in the handler's transaction
	guardDone
)

// guard owns one reservation: it renews its lease while the run is alive,
// and completes or releases it once.
type guard struct {
	m     *Middleware
	key   string
	token string
	rec   recorder
	base  context.Context // the request's values, without its cancellation
	state atomic.Int32
	renew renewal
}

// renewal renews a guard's lease from a timer every third of the lease:
// no goroutine exists between renewals, so a run shorter than that costs a
// timer and nothing else. A renewal that fails for a passing reason is
// tried again at the next tick; one that finds the reservation lost stops
// the renewals and closes the channel of [Lease.Lost].
type renewal struct {
	mu      sync.Mutex // guards the fields below
	t       *time.Timer
	stopped bool
	busy    bool               // a renewal is under way
	cancel  context.CancelFunc // cancels the renewal under way
	idle    chan struct{}      // made by waitIdle while busy; closed when the renewal ends
	isLost  bool
	lost    chan struct{} // made on demand by lostChan
}

// startRenewal arms the first renewal.
func (g *guard) startRenewal() {
	r := &g.renew
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t = time.AfterFunc(g.m.opts.lease/3, g.renewOnce) // it takes r.mu before it reads r.t
}

// renewOnce is the timer's function: one renewal, then the next is armed.
func (g *guard) renewOnce() {
	r := &g.renew
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(g.base)
	r.busy, r.cancel = true, cancel
	r.mu.Unlock()

	lease := g.m.opts.lease
	sctx, scancel := g.m.storeContext(ctx)
	err := g.m.store.Renew(sctx, g.key, g.token, lease)
	scancel()
	stoppedMeanwhile := ctx.Err() != nil
	cancel()

	r.mu.Lock()
	r.busy, r.cancel = false, nil
	if r.idle != nil {
		close(r.idle)
		r.idle = nil
	}
	lost := !stoppedMeanwhile && errors.Is(err, ErrReservationLost)
	if lost {
		r.isLost = true
		if r.lost != nil {
			close(r.lost)
		}
	} else if !r.stopped {
		r.t.Reset(lease / 3)
	}
	r.mu.Unlock()

	switch {
	case err == nil, stoppedMeanwhile:
	case lost:
		if g.state.Load() == guardRunning {
			g.m.opts.logger.LogAttrs(g.base, slog.LevelError, "idempotency: the reservation was lost while its run went on (its lease ran out: the store was unreachable for longer than WithLease); another request with the key may run",
				slog.String("key", g.key), slog.Any("error", err))
		}
	default:
		g.m.opts.logger.LogAttrs(g.base, slog.LevelWarn, "idempotency: renewing the reservation failed; trying again",
			slog.String("key", g.key), slog.Duration("lease", lease), slog.Any("error", err))
	}
}

// stopRenewal stops the renewals and cancels the one under way, if any,
// without waiting for it.
func (g *guard) stopRenewal() {
	r := &g.renew
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	r.t.Stop()
	if r.cancel != nil {
		r.cancel()
	}
}

// waitRenewal waits until no renewal is under way (after stopRenewal, none
// starts again).
func (g *guard) waitRenewal() {
	r := &g.renew
	r.mu.Lock()
	if !r.busy {
		r.mu.Unlock()
		return
	}
	if r.idle == nil {
		r.idle = make(chan struct{})
	}
	idle := r.idle
	r.mu.Unlock()
	<-idle
}

// endRenewal stops the renewals and waits for the one under way.
func (g *guard) endRenewal() {
	g.stopRenewal()
	g.waitRenewal()
}

// lostChan returns the channel of [Lease.Lost].
func (g *guard) lostChan() <-chan struct{} {
	r := &g.renew
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lost == nil {
		r.lost = make(chan struct{})
		if r.isLost {
			close(r.lost)
		}
	}
	return r.lost
}

// complete stores the recorded response, or releases the key if the status
// is a server error; after seal it settles the key instead. ctx is used for
// its values only.
func (g *guard) complete(ctx context.Context) {
	if g.state.CompareAndSwap(guardSealed, guardDone) {
		g.settleSealed(ctx)
		return
	}
	if !g.state.CompareAndSwap(guardRunning, guardDone) {
		return
	}
	g.endRenewal()
	rec := g.rec.take()
	if rec.StatusCode >= 500 {
		g.releaseTaken(ctx, "the response was a server error")
		return
	}
	sctx, cancel := g.m.storeContext(context.WithoutCancel(ctx))
	defer cancel()
	if err := g.m.store.Complete(sctx, g.key, g.token, rec, g.m.opts.ttl); err != nil {
		msg := "idempotency: the response could not be recorded; the key stays reserved until its lease runs out"
		if errors.Is(err, ErrReservationLost) {
			msg = "idempotency: the lease ran out before the run ended, so another run may have used the key; make WithLease longer than the store's worst stall"
		}
		g.m.opts.logger.LogAttrs(ctx, slog.LevelError, msg,
			slog.String("key", g.key), slog.Int("status", rec.StatusCode), slog.Any("error", err))
	}
}

// release gives the key back, unless complete or release already acted;
// after seal it settles the key instead.
func (g *guard) release(ctx context.Context, why string) {
	if g.state.CompareAndSwap(guardSealed, guardDone) {
		g.settleSealed(ctx)
		return
	}
	if !g.state.CompareAndSwap(guardRunning, guardDone) {
		return
	}
	g.endRenewal()
	g.rec.take() // later writes are not recorded
	g.releaseTaken(ctx, why)
}

func (g *guard) releaseTaken(ctx context.Context, why string) {
	sctx, cancel := g.m.storeContext(context.WithoutCancel(ctx))
	defer cancel()
	if err := g.m.store.Release(sctx, g.key, g.token); err != nil {
		g.m.opts.logger.LogAttrs(ctx, slog.LevelError, "idempotency: the key could not be released; it stays reserved until its lease runs out",
			slog.String("key", g.key), slog.String("reason", why), slog.Any("error", err))
	}
}

// seal hands the recording of the answer to the handler's transaction: it
// returns rec, or the response written so far when rec is nil, and stops
// recording and renewing (a renewal under way is waited for by settle,
// since it may be blocked behind the handler's own transaction).
func (g *guard) seal(rec *Record) (*Record, error) {
	if !g.state.CompareAndSwap(guardRunning, guardSealed) {
		return nil, fmt.Errorf("idempotency: the key was already completed, released or sealed: %w", ErrReservationLost)
	}
	g.stopRenewal()
	taken := g.rec.take()
	if rec == nil {
		rec = taken
	}
	return rec, nil
}

// settleSealed runs when the handler that sealed the guard returns (or at
// Finish): if its transaction committed, the key is completed and Release
// finds it lost, as expected; if it rolled back, the key is still reserved
// and Release frees it, so that a retry runs.
func (g *guard) settleSealed(ctx context.Context) {
	g.waitRenewal()
	sctx, cancel := g.m.storeContext(context.WithoutCancel(ctx))
	defer cancel()
	err := g.m.store.Release(sctx, g.key, g.token)
	switch {
	case err == nil:
		g.m.opts.logger.LogAttrs(ctx, slog.LevelWarn, "idempotency: the answer was recorded in a transaction that did not commit; the key is released, so a retry runs again",
			slog.String("key", g.key))
	case !errors.Is(err, ErrReservationLost):
		g.m.opts.logger.LogAttrs(ctx, slog.LevelError, "idempotency: after a transaction that recorded the answer, the key could not be checked; if the transaction did not commit it stays reserved until its lease runs out",
			slog.String("key", g.key), slog.Any("error", err))
	}
}
