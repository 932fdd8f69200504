package lifeline

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifeline-go/lifeline/output"
)

// Run is one execution of a wrapped handler for one request: PHP's script
// execution, with its connection status, abort policy, time limit, shutdown
// functions and output stack.
//
// A handler gets its Run with [FromContext]. The methods that produce output
// or change the response ([Run.Finish], [Run.Check], the ResponseWriter) belong
// to the run's goroutine, the one that called the handler; Status, Aborted,
// Phase, ID and Context may be called from any goroutine. After the run ends,
// methods act on nothing and those that return an error return [ErrRunEnded].
type Run struct {
	pool  *Pool
	cfg   atomic.Pointer[config] // the route's settings; replaced only by a nested route (see adjust)
	h     http.Handler           // the wrapped handler
	id    uint64
	req   *http.Request // the request as the handler sees it
	start time.Time
	ex    *exchange

	w   runWriter  // the handler's ResponseWriter; part of the Run so it is never reused
	ctx runContext // the run context (Run.Context); part of the Run for the same reason
	cw  *connWatch // the detector's watch of the client connection, or nil

	liveNext, livePrev *Run     // the pool's live set (live.go), guarded by its shard's lock
	dlv                delivery // delivery tracking, armed by Finish (see delivery.go)

	// The fields are ordered so that the Run, with reqCopy and the
	// allocator's 8-byte header, fits its 704-byte size class: the 4-byte
	// fields, mu (4-byte aligned) and the 1-byte fields are together.
	status atomic.Uint32 // Status bits; only ever ORed
	state  atomic.Uint32 // the Phase, and whether Finish was called and released the response (see setPhase)
	ignore atomic.Bool   // ignore_user_abort
	stop   atomic.Bool   // the pool shut down past its deadline
	bytes  atomic.Int64  // body bytes written to the client's ResponseWriter
	code   atomic.Int32  // status code written to the client's ResponseWriter, 0 if none

	terminated  atomic.Bool   // the run was terminated (panic ErrTerminated)
	hijacked    atomic.Bool   // the handler hijacked the connection
	stallNeeded atomic.Bool   // the stall bound can matter for this run (see timer.go)
	emitted     atomic.Uint32 // the EventKinds reported, one bit each (see emit)

	mu          sync.Mutex // guards the fields below
	cause       Cause      // first cause recorded
	timerMode   timerMode
	timerLate   bool            // the limit is set but its timer not armed yet (see armLate)
	panicked    bool            // the handler or a final flush panicked
	origCtx     context.Context // the request's own context (values only)
	cctx        context.Context // the cancellable context behind ctx, created lazily by inner
	cancel      context.CancelCauseFunc
	ctxCause    error         // first cancellation cause, applied when ctx is created
	limit       time.Duration // current time limit, 0 = none
	deadline    time.Time     // when the current limit expires
	shutdowns   []func(context.Context, *Run)
	release     []func(context.Context)
	notes       map[string]string
	finishedIn  time.Duration // from the start to Finish, if it was called
	ranShutdown int

	// reqCopy is where req points: the request with the run's context,
	// part of the Run so that the copy is not an allocation of its own.
	reqCopy http.Request
}

// conf returns the run's settings, from any goroutine.
func (rn *Run) conf() *config { return rn.cfg.Load() }

type timerMode uint8

const (
	timerOff     timerMode = iota
	timerLimit             // the time limit is armed
	timerGrace             // the limit expired, the grace period runs
	timerExpired           // the grace period expired too
)

// FromContext returns the run of the request whose context is ctx.
func FromContext(ctx context.Context) (*Run, bool) {
	rn, ok := ctx.Value(runKey{}).(*Run)
	return rn, ok
}

type runKey struct{}

// ID returns the run's number, unique within its pool.
func (rn *Run) ID() uint64 { return rn.id }

// Status returns the run's connection status (PHP's connection_status()).
func (rn *Run) Status() Status { return Status(rn.status.Load()) }

// Aborted reports whether the client has gone (PHP's connection_aborted()).
func (rn *Run) Aborted() bool { return rn.Status()&Aborted != 0 }

// Phase returns where the run is in its life.
func (rn *Run) Phase() Phase { return Phase(rn.state.Load() & stateMask) }

// Run.state holds the phase in its low bits, and two facts about Finish
// that outlive PhaseFinished: it is the one record of both.
const (
	stateMask     = 0xff    // the Phase
	stateFinished = 1 << 8  // Finish was called (set with PhaseFinished)
	stateReleased = 1 << 9  // Finish wrote the whole response: the client no longer matters
	stateAttend   = 1 << 10 // status, stop or hijacked was set: a write must look at them (runWriter.plain)
)

// attend records that status, stop or hijacked was set, after setting it:
// writes then leave their one-look path (runWriter.plain).
func (rn *Run) attend() { rn.state.Or(stateAttend) }

// setPhase moves the run to ph, keeping the Finish facts. Only the side
// that owns the run at the time calls it.
func (rn *Run) setPhase(ph Phase) {
	for {
		old := rn.state.Load()
		if rn.state.CompareAndSwap(old, old&^stateMask|uint32(ph)) {
			return
		}
	}
}

// finishCalled reports whether the run called Finish.
func (rn *Run) finishCalled() bool { return rn.state.Load()&stateFinished != 0 }

// released reports whether Finish has written the whole response: from
// then on, the client no longer matters.
func (rn *Run) released() bool { return rn.state.Load()&stateReleased != 0 }

// Request returns the request as the handler sees it.
func (rn *Run) Request() *http.Request { return rn.req }

// Output returns the run's output stack (PHP's ob_* layer). Like the
// ResponseWriter, it belongs to the run's goroutine.
func (rn *Run) Output() *output.Stack {
	rn.mu.Lock()
	ex := rn.ex
	rn.mu.Unlock()
	if ex == nil {
		return output.NewStack(discardSink{}) // the run has ended: a stack that goes nowhere
	}
	return ex.stack
}

// IgnoreUserAbort sets whether the run goes on when the client leaves and
// returns the previous setting (PHP's ignore_user_abort). With true, the run
// context is not cancelled by an abort, output is discarded without error,
// and [Run.Status] still says Aborted. Switching it off after an abort
// cancels the context and terminates the run at its next output. Switching
// it on after the client left keeps the run from being terminated, but
// cannot revive a context that was already cancelled: set it before the
// work that must survive the client, as PHP scripts do.
func (rn *Run) IgnoreUserAbort(ignore bool) (previous bool) {
	previous = rn.ignore.Swap(ignore)
	if !ignore && previous && rn.Aborted() {
		rn.mu.Lock()
		cause := rn.cause
		rn.mu.Unlock()
		rn.cancelCtx(cause.err())
	}
	return previous
}

// IgnoresUserAbort reports the current ignore_user_abort setting.
func (rn *Run) IgnoresUserAbort() bool { return rn.ignore.Load() }

// SetTimeLimit restarts the time limit from now with d (PHP's
// set_time_limit): 25s into a run, SetTimeLimit(20*time.Second) lets it run
// until 45s. 0 or less means unlimited. It has no effect once the limit has
// expired: the run must stop.
func (rn *Run) SetTimeLimit(d time.Duration) {
	if d < 0 {
		d = 0
	}
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.timerMode == timerGrace || rn.timerMode == timerExpired || rn.ex == nil {
		return
	}
	rn.armLocked(d)
}

// TimeLimit returns the current limit and the time left; both are 0 when the
// run is unlimited.
func (rn *Run) TimeLimit() (limit, left time.Duration) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.timerMode != timerLimit {
		return rn.limit, 0
	}
	left = time.Until(rn.deadline)
	if left < 0 {
		left = 0
	}
	return rn.limit, left
}

// RegisterShutdown adds fn to the functions that run, in registration order,
// after the handler returns, panics or is terminated (PHP's
// register_shutdown_function). Each runs exactly once, on the run's
// goroutine, with a context that the abort or timeout that ended the run did
// not cancel; it is bounded by what is left of the time limit or, after a
// timeout, by the shutdown budget. A function registered by another runs in
// the same pass. A panic in one is logged and the rest still run. Their
// output reaches the client while the response is open (before Finish).
// Registering after the shutdown pass has ended does nothing.
func (rn *Run) RegisterShutdown(fn func(ctx context.Context, rn *Run)) {
	if fn == nil {
		return
	}
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.Phase() == PhaseDone {
		rn.conf().log().Warn("lifeline: RegisterShutdown after the run ended", "run", rn.id)
		return
	}
	rn.shutdowns = append(rn.shutdowns, fn)
}

// BeforeRelease adds fn to the hooks that run once, on the run's goroutine,
// just before the response is released: in [Run.Finish] before the final
// output flush, or at the end of the run after the shutdown functions and
// before the final flush. PHP writes sessions in RSHUTDOWN, after the final
// flush; Lifeline runs the hooks just before it, so that a client can never
// hold the complete response while the session lock it will ask for next is
// still held. ctx is not
// cancelled by the abort or timeout that ended the run. Packages such as
// session use it to release locks before the client sees the response.
func (rn *Run) BeforeRelease(fn func(ctx context.Context)) {
	if fn == nil {
		return
	}
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.Phase() == PhaseDone {
		return
	}
	rn.release = append(rn.release, fn)
}

// Annotate attaches a note to the run, shown on the status page and kept in
// its [Record] (for example "session" = "locked"). An empty value removes it.
func (rn *Run) Annotate(key, value string) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if value == "" {
		delete(rn.notes, key)
		return
	}
	if rn.notes == nil {
		rn.notes = make(map[string]string)
	}
	rn.notes[key] = value
}

// Check terminates the run, by panicking with [ErrTerminated], if it must
// stop: the client left and user aborts are not ignored, or the time limit
// expired. Long computations that write nothing call it as PHP's VM checks
// at loop back-edges. In shutdown functions it does nothing.
func (rn *Run) Check() {
	rn.checkOutput()
}

// checkOutput terminates the run if it must stop. The panic value is
// ErrTerminated, which is http.ErrAbortHandler: the recover middleware of
// every common framework passes it on or ignores it, and rn.terminated says
// that it was a termination, whatever a recoverer does with it.
func (rn *Run) checkOutput() {
	if rn.mustStop() {
		rn.terminated.Store(true)
		panic(ErrTerminated)
	}
}

// mustStop reports whether the handler must be terminated at its next output.
func (rn *Run) mustStop() bool {
	ph := rn.Phase()
	if ph > PhaseFinished {
		return false // shutdown functions are never terminated
	}
	if rn.stop.Load() {
		return true
	}
	st := Status(rn.status.Load())
	if st&Timeout != 0 {
		return true
	}
	// After Finish the client no longer matters.
	return ph == PhaseRunning && st&Aborted != 0 && !rn.ignore.Load()
}

// cutByUsLocked reports whether the connection side has already cut the
// response (a write deadline past the time limit, or w taken back): a
// connection that fails after that failed because of it, not because the
// client left. rn.mu must be held.
func (rn *Run) cutByUsLocked() bool {
	ex := rn.ex
	return ex != nil && (ex.overtime.Load() || ex.revoked.Load())
}

// abort records that the client left, from any goroutine.
func (rn *Run) abort(c Cause) {
	if st := rn.state.Load(); st&stateReleased != 0 || Phase(st&stateMask) == PhaseDone {
		return // after Finish the client no longer matters
	}
	rn.mu.Lock()
	if rn.released() || rn.cutByUsLocked() {
		rn.mu.Unlock()
		return
	}
	first := rn.status.Load()&uint32(Aborted) == 0
	if first && (rn.cause == CauseNone || rn.cause == CauseTimeLimit) {
		if rn.cause == CauseNone {
			rn.cause = c
		}
	}
	rn.status.Or(uint32(Aborted))
	rn.attend()
	rn.mu.Unlock()
	if first {
		rn.pool.stats.aborts[c].Add(1)
		rn.emit(EventAbort, c, DeliveryUnknown) // before the shutdown functions a cancellation may start
		if !rn.ignore.Load() {
			rn.cancelCtx(c.err())
		}
	}
}

// Finish sends the complete response now and lets the run go on without the
// client (PHP-FPM's fastcgi_finish_request, done right). The
// [Run.BeforeRelease] hooks run (sessions are written and unlocked), every
// output buffer is flushed through its handler with the final phase,
// Content-Length is set to the exact length, and the connection side returns: an HTTP/1.1
// connection stays reusable and an HTTP/2 stream ends. The run goes on in
// [PhaseFinished]: later output is discarded without error, client aborts no
// longer matter, the time limit (or [WithBackgroundLimit]) still applies, and
// [Pool.Shutdown] waits for the run.
//
// Finish returns [ErrFinished] when called twice, an error wrapping
// [http.ErrNotSupported] after a Hijack, and [ErrRunEnded] after the run.
// Read the request body before Finish: it is closed when the response ends.
func (rn *Run) Finish() error {
	rn.mu.Lock()
	ended := rn.ex == nil
	rn.mu.Unlock()
	if ended || rn.Phase() == PhaseDone {
		return ErrRunEnded
	}
	if rn.finishCalled() {
		return ErrFinished
	}
	if rn.hijacked.Load() {
		return errHijackedFinish
	}
	ex := rn.ex
	if ex.released {
		return ErrRunEnded // shutdown functions may still Finish, as in PHP
	}
	rn.Check()
	// Release hooks (session unlock) first: the client must never hold the
	// complete response while a lock it will ask for is still held.
	rn.runRelease()
	// The phase says Finished before the client can hold the whole
	// response; the client stops mattering (stateReleased) only once it
	// was written, so that a client that leaves during the final write is
	// seen.
	rn.mu.Lock()
	rn.finishedIn = time.Since(rn.start)
	rn.mu.Unlock()
	rn.state.Or(stateFinished | uint32(PhaseFinished)) // from PhaseRunning
	rn.pool.stats.finished.Add(1)
	rn.armDelivery(ex) // the run goes on without the client: code may ask (delivery.go)
	ex.sink.final = true
	err := ex.stack.EndAll()
	ex.sink.finishResponse()
	ex.sink.final = false
	// Reported before the connection side has the response, so before its
	// delivery can be decided.
	rn.emit(EventFinish, CauseNone, DeliveryUnknown)
	if rn.Aborted() && ex.sink.lost {
		// The client left before it had the whole answer. One that left
		// after everything was written (it read it all and closed while
		// Finish returned) is judged by its acknowledgements.
		rn.dlv.decide(Undelivered)
	}
	rn.state.Or(stateReleased)
	ex.take()
	ex.post(msgRelease, outcomeNormal)
	rn.mu.Lock()
	if rn.conf().backgroundLimit > 0 && (rn.timerMode == timerLimit || rn.timerMode == timerOff) {
		rn.armLocked(rn.conf().backgroundLimit)
	}
	rn.mu.Unlock()
	ex.stack.SetSink(discardSink{})
	return err
}

// runRelease runs the BeforeRelease hooks once.
func (rn *Run) runRelease() {
	rn.mu.Lock()
	hooks := rn.release
	rn.release = nil
	rn.mu.Unlock()
	if len(hooks) == 0 {
		return
	}
	ctx := context.WithoutCancel(rn.req.Context())
	for _, fn := range hooks {
		rn.safeCall("release hook", func() { fn(ctx) })
	}
}
