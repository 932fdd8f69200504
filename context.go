package lifeline

import (
	"context"
	"strconv"
	"time"
)

// Context returns the run context, which the handler's request also carries
// (r.Context()). It carries the request context's values but not its
// cancellation, and is cancelled, with a cause that errors.Is can test
// through [context.Cause], when:
//   - the client leaves and the run does not ignore user aborts ([ErrClientAborted]);
//   - the time limit expires ([ErrTimeLimit]);
//   - the pool shuts down past its drain deadline ([ErrServerShutdown]);
//   - the run ends ([ErrRunEnded]), so that watchers do not outlive it.
//
// With IgnoreUserAbort(true) a database transaction started with this
// context survives a client disconnect but not the time limit. ctx.Err()
// is context.Canceled, as for any context.WithCancelCause. It may be called
// from any goroutine.
func (rn *Run) Context() context.Context { return &rn.ctx }

// runContext is the run context. It is part of its Run (no allocation) and
// creates the cancellable context behind it on first use, so that a handler
// that never looks at its context pays nothing for it.
type runContext struct {
	rn *Run
}

// Deadline reports no deadline: the time limit can be restarted
// ([Run.SetTimeLimit]), so the context is cancelled instead.
func (c *runContext) Deadline() (time.Time, bool) { return time.Time{}, false }

func (c *runContext) Done() <-chan struct{} { return c.rn.inner().Done() }

func (c *runContext) Err() error { return c.rn.inner().Err() }

func (c *runContext) Value(key any) any {
	if _, ok := key.(runKey); ok {
		return c.rn
	}
	return c.rn.inner().Value(key)
}

func (c *runContext) String() string { return c.rn.String() + ".Context" }

// inner returns the cancellable context behind the run context, creating it
// on first use.
func (rn *Run) inner() context.Context {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.cctx == nil {
		rn.cctx, rn.cancel = context.WithCancelCause(context.WithoutCancel(rn.origCtx))
		if rn.ctxCause != nil {
			rn.cancel(rn.ctxCause)
		}
	}
	return rn.cctx
}

// cancelCtx cancels the run context with cause; the first cause wins.
func (rn *Run) cancelCtx(cause error) {
	rn.mu.Lock()
	if rn.ctxCause == nil {
		rn.ctxCause = cause
	}
	cancel := rn.cancel
	rn.mu.Unlock()
	if cancel != nil {
		cancel(cause)
	}
}

// String returns "lifeline.Run#" and the run's ID.
func (rn *Run) String() string { return "lifeline.Run#" + strconv.FormatUint(rn.id, 10) }
