package lifeline

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

// Pool holds the defaults every run starts with (like a PHP-FPM pool and its
// php.ini) and the registry of live runs. Create one with [NewPool], wrap
// handlers with [Pool.Middleware], and call [Pool.Shutdown] when the server
// stops. A Pool is safe for concurrent use.
//
// The name is PHP-FPM's: a pool there is a named group of workers with its
// own settings (pm.max_children is [WithMaxActive], its max_execution_time
// [WithTimeLimit], pm.status_path package status). A Lifeline pool runs each
// request on a goroutine of its own, kept for reuse while idle, rather than
// on a fixed set of worker processes.
type Pool struct {
	cfg     config
	start   time.Time
	slots   chan struct{} // WithMaxActive semaphore, nil when uncapped
	exs     sync.Pool     // *exchange
	ids     atomic.Uint64
	stats   counters
	det     detector // socket-level abort detection (ConfigureServer)
	workers workers  // idle run goroutines (see worker.go)

	outcomes   atomic.Bool  // WithOutcome was called: responses look for an Outcome
	flushWaits atomic.Int32 // early answers waiting for net/http's flush (delivery)

	live    liveSet        // the live runs (see live.go)
	late    lateArms       // runs whose first time limit is not armed yet (see timer.go)
	closing atomic.Bool    // Shutdown has begun: new requests get 503
	hooks   sync.WaitGroup // WithRunEnded and WithRunEvent functions still running

	evGate    sync.RWMutex // orders the Adds of WithRunEvent calls before Shutdown's Wait
	evClosed  bool         // Shutdown waits for hooks: events are dropped; guarded by evGate
	undecided undecided    // deliveries whose EventDelivery is still to come (see delivery.go)

	mu       sync.Mutex    // the pool-wide lock, taken once per request (endRun); guards the fields below
	idle     chan struct{} // closed when closing and no run is live
	recent   []Record      // ring of final records
	recentAt int           // next slot in recent
	recentN  int
}

// counters are the pool's statistics, updated atomically.
type counters struct {
	accepted, queued, queueWaits, queueTimeouts atomic.Uint64
	finished                                    atomic.Int64 // runs now working after Finish
	runaway, timeLimitHits                      atomic.Uint64
	panics, shutdownPanics                      atomic.Uint64
	byStatus                                    [4]atomic.Uint64
	aborts                                      [causeCount]atomic.Uint64
}

// NewPool returns a Pool with the given defaults, validated once here.
func NewPool(opts ...Option) (*Pool, error) {
	cfg := defaultConfig()
	if err := cfg.applyOptions(opts); err != nil {
		return nil, err
	}
	cfg.poolOnly, cfg.set = nil, 0
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	p := &Pool{cfg: cfg, start: time.Now()}
	if cfg.maxActive > 0 {
		p.slots = make(chan struct{}, cfg.maxActive)
	}
	p.recent = make([]Record, cfg.recentRuns)
	p.exs.New = func() any { return newExchange() }
	return p, nil
}

func (c *config) log() *slog.Logger { return c.logger }

// admit takes a slot when the pool is capped, waiting up to the queue
// timeout, and counts the run among the live ones. A request admitted
// while Shutdown begins is counted before closing is looked at again, and
// Shutdown sets closing before it looks at the count: either Shutdown waits
// for the run, or the request is refused.
func (p *Pool) admit(ctx context.Context) error {
	if p.closing.Load() {
		return ErrPoolClosed
	}
	if err := p.takeSlot(ctx); err != nil {
		return err
	}
	p.live.reserve()
	if p.closing.Load() {
		p.unreserve()
		return ErrPoolClosed
	}
	return nil
}

// unreserve undoes admit's count and slot for a request refused after
// them, and wakes Shutdown if it was the last.
func (p *Pool) unreserve() {
	left := p.live.n.Add(-1)
	p.mu.Lock()
	if left == 0 && p.closing.Load() && p.idle != nil {
		close(p.idle)
		p.idle = nil
	}
	p.mu.Unlock()
	if p.slots != nil {
		<-p.slots
	}
}

// takeSlot takes a slot when the pool is capped, waiting up to the queue
// timeout.
func (p *Pool) takeSlot(ctx context.Context) error {
	if p.slots == nil {
		return nil
	}
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	p.stats.queued.Add(1)
	defer p.stats.queued.Add(^uint64(0))
	p.stats.queueWaits.Add(1)
	t := time.NewTimer(p.cfg.queueTimeout)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-t.C:
		p.stats.queueTimeouts.Add(1)
		return ErrQueueTimeout
	case <-ctx.Done():
		return fmt.Errorf("lifeline: waiting for a slot: %w", ErrClientAborted)
	}
}

// reject answers a request that got no run.
func (p *Pool) reject(w http.ResponseWriter, err error) {
	w.Header().Set("Retry-After", "1")
	http.Error(w, err.Error(), http.StatusServiceUnavailable)
}

// newRun creates the run for r, whose response goes to w, and registers it.
func (p *Pool) newRun(rt *route, r *http.Request, w http.ResponseWriter) (*Run, *exchange) {
	ex := p.exs.Get().(*exchange)
	now := time.Now()
	rn := &Run{pool: p, h: rt.h, id: p.ids.Add(1), start: now, ex: ex, origCtx: r.Context()}
	rn.w.rn, rn.ctx.rn = rn, rn
	rn.cfg.Store(&rt.cfg)
	rn.ignore.Store(rt.cfg.ignoreUserAbort)
	// WithContext is inlined: its copy stays on the stack, and the Run
	// holds the one the handler gets.
	rn.reqCopy = *r.WithContext(&rn.ctx)
	rn.req = &rn.reqCopy
	ex.reset(rn, w)
	if rt.cfg.outputBuffering > 0 {
		_ = ex.stack.StartBase(rt.cfg.outputBuffering)
	}
	if d := rt.cfg.timeLimit; d > armDelay {
		p.armLate(rn, d, now)
	} else if d > 0 {
		// The arming tick would come after the limit: arm it now.
		rn.mu.Lock()
		rn.armFromLocked(d, now, now)
		rn.mu.Unlock()
	} else if rt.cfg.stallTimeout > 0 {
		rn.stallNeeded.Store(true)
	}
	p.stats.accepted.Add(1)
	p.live.add(rn)
	return rn, ex
}

// endRun ends the run: on the run's goroutine, or on the connection side
// when the run handed itself over (exchange.handOver).
func (p *Pool) endRun(rn *Run) {
	rn.setPhase(PhaseDone)
	ex := rn.ex
	rn.mu.Lock()
	runaway := rn.timerMode == timerExpired // stays so: the record says runaway
	if !runaway {
		rn.timerMode = timerOff
	}
	ex.stopTimers(runaway, rn.timerLate)
	rn.timerLate = false
	rn.mu.Unlock()
	dlv := rn.Delivery()
	p.stats.byStatus[rn.Status()&3].Add(1)
	if rn.finishCalled() {
		p.stats.finished.Add(-1)
	}
	hooks := p.cfg.onEnd
	if len(hooks) > 0 {
		p.hooks.Add(1) // before the count goes down: Shutdown waits for it
	}
	p.mu.Lock()
	if len(p.recent) > 0 {
		// Run.mu is taken under the pool's lock here, never the other
		// way round.
		rn.record(&p.recent[p.recentAt], dlv)
		p.recentAt = (p.recentAt + 1) % len(p.recent)
		if p.recentN < len(p.recent) {
			p.recentN++
		}
	}
	// The record is in the ring before the run leaves the live runs, so a
	// reader of Stats, Active and Recent (package status, in that order)
	// finds every run counted as ended in one of the two: it is never
	// between them. A live shard's lock is taken under the pool's lock,
	// never the other way round.
	left := p.live.remove(rn)
	// Shutdown sets closing before it looks at the count under mu, and
	// the count went down before this looks at closing: one of the two
	// sees the other, so the last run never goes unnoticed.
	if left == 0 && p.closing.Load() && p.idle != nil {
		close(p.idle)
		p.idle = nil
	}
	p.mu.Unlock()
	if p.slots != nil {
		<-p.slots
	}
	if len(hooks) > 0 {
		p.runEnded(rn, dlv, hooks)
	}
	ex.cur.Store(nil)
	rn.mu.Lock()
	rn.ex = nil // a *Run kept past its run must not reach a reused exchange
	rn.mu.Unlock()
	// Like net/http's request context, the run context ends with the run,
	// so that watchers and context.AfterFunc callbacks do not outlive it.
	rn.cancelCtx(ErrRunEnded)
	if runaway {
		return // the connection side left early; drop the exchange
	}
	ex.drop(p)
}

// runEnded calls the WithRunEnded functions with the run's record.
//
//go:noinline
func (p *Pool) runEnded(rn *Run, dlv Delivery, hooks []func(Record)) {
	defer p.hooks.Done()
	var rec Record
	rn.record(&rec, dlv)
	for _, f := range hooks {
		rn.safeCall("WithRunEnded hook", func() { f(rec) })
	}
}

// Shutdown waits for every run to end, including runs still working after
// Finish, like [http.Server.Shutdown] waits for connections. New requests get
// 503 once it has begun. If ctx is done first, the remaining runs are
// cancelled with [ErrServerShutdown] (see [Pool.Active] for who they are) and
// Shutdown returns an error wrapping ctx.Err().
//
// A run that answered early ([Run.Finish]) is not over for its observers
// until its delivery is decided: with [WithRunEvent] functions, Shutdown
// then waits, within ctx, for the [EventDelivery] of every such run, which
// a client that does not acknowledge the answer may hold back up to the
// dead-peer timeout ([ServerConfig]). If ctx is done first, the deliveries
// still undecided are decided [DeliveryUnknown] and reported so, and
// Shutdown returns an error wrapping ctx.Err() that counts them. So every
// run that finished early gets exactly one EventDelivery.
//
// Shutdown returns only after the [WithRunEnded] functions of every ended
// run, and the [WithRunEvent] functions called so far, have returned.
// Call it after the http.Server's Shutdown, so no new run starts. It may be
// called from any goroutine, and again.
func (p *Pool) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	if !p.closing.Swap(true) {
		p.workers.close()
	}
	if p.live.n.Load() == 0 {
		p.mu.Unlock()
		return p.drain(ctx)
	}
	if p.idle == nil {
		p.idle = make(chan struct{})
	}
	idle := p.idle
	p.mu.Unlock()
	select {
	case <-idle:
		return p.drain(ctx)
	case <-ctx.Done():
	}
	runs := p.live.snapshot()
	for _, rn := range runs {
		rn.shutdown()
	}
	p.det.stop()
	return fmt.Errorf("lifeline: shutdown: %d runs still active: %w", len(runs), ctx.Err())
}

// drain ends Shutdown once no run is live: it waits for the delivery
// verdicts still to come, then for the hooks.
func (p *Pool) drain(ctx context.Context) error {
	errD := p.awaitDeliveries(ctx)
	return errors.Join(errD, p.awaitHooks(ctx))
}

// awaitDeliveries waits until every armed delivery's verdict was reported,
// or ctx is done; then it stops the detector, which decides the
// deliveries it watches DeliveryUnknown (unless the last acknowledged
// count covers them), and decides the others so.
func (p *Pool) awaitDeliveries(ctx context.Context) error {
	select {
	case <-p.undecided.emptied():
		return nil
	case <-ctx.Done():
	}
	left := p.undecided.list()
	if len(left) == 0 {
		return nil
	}
	p.det.stop()
	for _, d := range p.undecided.list() {
		d.decide(DeliveryUnknown)
	}
	// A verdict decided elsewhere meanwhile passes the event gate at once:
	// none is dropped.
	<-p.undecided.emptied()
	return fmt.Errorf("lifeline: shutdown: the delivery of %d early answers was still undecided, reported unknown: %w", len(left), ctx.Err())
}

// awaitHooks waits, at the end of Shutdown, for the WithRunEnded functions
// of the runs that ended last, then stops the detector.
func (p *Pool) awaitHooks(ctx context.Context) error {
	defer p.det.stop()
	if len(p.cfg.onEnd) == 0 && len(p.cfg.onEvent) == 0 {
		return nil
	}
	p.evGate.Lock()
	p.evClosed = true
	p.evGate.Unlock()
	done := make(chan struct{})
	go func() {
		p.hooks.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("lifeline: shutdown: WithRunEnded or WithRunEvent functions still running: %w", ctx.Err())
	}
}

// shutdown cancels the run because the pool is shutting down.
func (rn *Run) shutdown() {
	rn.mu.Lock()
	if rn.cause == CauseNone {
		rn.cause = CauseShutdown
	}
	rn.mu.Unlock()
	if rn.stop.Swap(true) {
		return // an earlier Shutdown did it
	}
	rn.attend()
	rn.pool.stats.aborts[CauseShutdown].Add(1)
	rn.emit(EventPoolShutdown, CauseNone, DeliveryUnknown)
	rn.cancelCtx(ErrServerShutdown)
}
