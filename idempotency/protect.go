package idempotency

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
)

// run executes next for a request whose key it reserved, then completes
// or releases the key.
func (m *Middleware) run(w http.ResponseWriter, r *http.Request, next http.Handler, body []byte, key, token string) {
	g := &guard{
		m:     m,
		key:   key,
		token: token,
		rec:   recorder{w: w, maxBody: m.opts.maxResponseBody, logger: m.opts.logger},
		base:  context.WithoutCancel(r.Context()),
	}
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
	r2 := r.WithContext(ctx)
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

// guard owns one reservation: exactly one of complete and release acts on
// it, once.
type guard struct {
	m     *Middleware
	key   string
	token string
	rec   recorder
	base  context.Context // the request's values, without its cancellation
	done  atomic.Bool
}

// complete stores the recorded response, or releases the key if the status
// is a server error. ctx is used for its values only.
func (g *guard) complete(ctx context.Context) {
	if !g.done.CompareAndSwap(false, true) {
		return
	}
	rec := g.rec.take()
	if rec.StatusCode >= 500 {
		g.releaseTaken(ctx, "the response was a server error")
		return
	}
	sctx, cancel := g.m.storeContext(context.WithoutCancel(ctx))
	defer cancel()
	if err := g.m.store.Complete(sctx, g.key, g.token, rec, g.m.opts.ttl); err != nil {
		msg := "idempotency: the response could not be recorded; the key stays reserved until its reservation expires"
		if errors.Is(err, ErrReservationLost) {
			msg = "idempotency: the reservation expired before the run ended, so another run may have used the key; make WithReservationTTL longer than any run"
		}
		g.m.opts.logger.LogAttrs(ctx, slog.LevelError, msg,
			slog.String("key", g.key), slog.Int("status", rec.StatusCode), slog.Any("error", err))
	}
}

// release gives the key back, unless complete or release already acted.
func (g *guard) release(ctx context.Context, why string) {
	if !g.done.CompareAndSwap(false, true) {
		return
	}
	g.rec.take() // later writes are not recorded
	g.releaseTaken(ctx, why)
}

func (g *guard) releaseTaken(ctx context.Context, why string) {
	sctx, cancel := g.m.storeContext(context.WithoutCancel(ctx))
	defer cancel()
	if err := g.m.store.Release(sctx, g.key, g.token); err != nil {
		g.m.opts.logger.LogAttrs(ctx, slog.LevelError, "idempotency: the key could not be released; it stays reserved until its reservation expires",
			slog.String("key", g.key), slog.String("reason", why), slog.Any("error", err))
	}
}
