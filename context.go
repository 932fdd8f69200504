package lifeline

import (
	"context"
	"time"
)

// Context returns the run context: the Run itself. It carries the request
// context's values but not its cancellation, and is cancelled, with a cause
// that errors.Is can test through [context.Cause], when:
//   - the client leaves and the run does not ignore user aborts ([ErrClientAborted]);
//   - the time limit expires ([ErrTimeLimit]);
//   - the pool shuts down past its drain deadline ([ErrServerShutdown]).
//
// With IgnoreUserAbort(true) a database transaction started with this
// context survives a client disconnect but not the time limit: the seed's
// "card charged but not in my DB" cannot happen. The handler's request
// carries the same context (r.Context()).
func (rn *Run) Context() context.Context { return rn }

// Deadline implements [context.Context]. The run context has no deadline: the
// time limit can be restarted ([Run.SetTimeLimit]), so it cancels instead.
func (rn *Run) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements [context.Context].
func (rn *Run) Done() <-chan struct{} { return rn.inner().Done() }

// Err implements [context.Context]: context.Canceled once cancelled.
func (rn *Run) Err() error { return rn.inner().Err() }

// Value implements [context.Context].
func (rn *Run) Value(key any) any {
	if _, ok := key.(runKey); ok {
		return rn
	}
	return rn.inner().Value(key)
}

// inner returns the cancellable context behind the Run, creating it on first
// use so that a handler that never looks at its context pays nothing for it.
func (rn *Run) inner() context.Context {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.ctx == nil {
		rn.ctx, rn.cancel = context.WithCancelCause(context.WithoutCancel(rn.origCtx))
		if rn.ctxCause != nil {
			rn.cancel(rn.ctxCause)
		}
	}
	return rn.ctx
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

func (rn *Run) String() string { return "lifeline.Run#" + itoa(int(rn.id)) }
