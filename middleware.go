package lifeline

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Middleware returns the middleware that runs every request it wraps as a
// [Run] of p, with opts overriding the pool's defaults for those runs. It is
// the one way in, and fits any router: give it to chi's Use or With,
// gorilla/mux's Use, alice.New, or call it on a handler for
// [http.ServeMux.Handle].
//
// Wrap the whole server once, and let routes adjust their run: a request
// that already runs as a Run (an outer Middleware of this pool or of any
// other started it) is not started again, whatever its phase: after
// [Run.Finish], in a shutdown function, and even after the run ended, when
// the next handler is called as it is. It applies its opts to the run that
// exists before it calls the next handler: [WithTimeLimit] restarts the
// run's limit counted from the run's start, [WithIgnoreUserAbort] acts as
// [Run.IgnoreUserAbort], [WithRoute] renames the run, and the other route
// options replace the run's setting. [WithOutputBuffering] replaces the
// run's base buffer while nothing has been written and the run has not
// finished, only when the ResponseWriter the nested Middleware is given is
// the run's own, or wraps it with an Unwrap method (as
// [http.ResponseController] follows them): a sub-request served into a
// ResponseWriter of its own, such as a [net/http/httptest.ResponseRecorder],
// leaves the run's output alone, so it may be served on another goroutine
// while the run writes. The pool's own defaults are not applied again: a
// nested Middleware with no options changes nothing. The run stays in the
// pool that started it.
//
// Middleware validates opts once, when it is called: a nil option, an
// invalid value or a pool-only option panics with an error that matches
// [ErrInvalidOption], and the returned function panics with an error
// matching [ErrNilHandler] when given a nil handler, as [http.ServeMux.Handle]
// panics on a bad pattern. Both happen while the program sets up its
// routes, never while it serves a request. It may be called from any
// goroutine.
func (p *Pool) Middleware(opts ...Option) func(http.Handler) http.Handler {
	cfg, err := p.routeConfig(opts)
	if err != nil {
		panic(err)
	}
	opts = slices.Clone(opts)
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic(fmt.Errorf("lifeline: Pool.Middleware: %w", ErrNilHandler))
		}
		return &route{pool: p, cfg: cfg, opts: opts, h: next}
	}
}

// routeConfig returns the pool's settings with opts applied, for a route.
func (p *Pool) routeConfig(opts []Option) (config, error) {
	cfg := p.cfg
	cfg.poolOnly, cfg.set = nil, 0
	if err := cfg.applyOptions(opts); err != nil {
		return config{}, err
	}
	if len(cfg.poolOnly) > 0 {
		return config{}, fmt.Errorf("%w: %s applies to the pool, not to a route", ErrInvalidOption, strings.Join(cfg.poolOnly, ", "))
	}
	if err := cfg.validate(); err != nil {
		return config{}, err
	}
	if cfg.logger == nil {
		cfg.logger = p.cfg.logger
	}
	return cfg, nil
}

// route is one wrapped handler with its settings.
type route struct {
	pool *Pool
	cfg  config   // the pool's settings with opts applied, for runs it starts
	opts []Option // applied to a run an outer route started
	h    http.Handler
}

// ServeHTTP starts a run for r, or adjusts the run r already belongs to.
func (rt *route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// One lookup: the run the request already belongs to, or else the
	// connection's watch (connContext), if the detector watches it.
	v := r.Context().Value(runKey{})
	if rn, ok := v.(*Run); ok {
		// Nested: the request is already a run's. One request, one run,
		// in every phase: after Finish, in a shutdown function, and after
		// the run ended (w then discards, as the run's writer does).
		if rn.Phase() != PhaseDone {
			rn.adjust(rt.opts, w)
		}
		rt.h.ServeHTTP(w, r)
		return
	}
	cw, _ := v.(*connWatch)
	rt.serve(w, r, cw)
}

// serve is the connection side of a new run: it starts the run's
// goroutine, lends it w (see exchange), waits until the run lets it go, and
// answers. cw is the detector's watch of the connection, or nil.
func (rt *route) serve(w http.ResponseWriter, r *http.Request, cw *connWatch) {
	p := rt.pool
	if err := p.admit(r.Context()); err != nil {
		p.reject(w, err)
		return
	}
	rn, ex := p.newRun(rt, r, w)
	if cw != nil {
		rn.cw = cw
		cw.attach(rn)
	}
	p.startRun(rn)
	// The connection side's state lives in the pooled exchange, not in
	// this frame: net/http's goroutine for an HTTP/2 stream is a new one,
	// and a stack that must grow is copied. The exchange goes back to the
	// pool in endRun: c is not used after it.
	c := &ex.conn
	*c = connSide{rn: rn, ex: ex, w: w, r: r, cw: cw}
	abortStream, ended := c.loop()
	if ended {
		p.endRun(rn)
	}
	if cw != nil {
		cw.detach(rn)
	}
	rn.fillOutcome(r, abortStream)
	if abortStream {
		// Cut the response short so that a partial body can never look
		// complete: net/http closes the HTTP/1 connection or resets the
		// HTTP/2 stream without logging.
		panic(http.ErrAbortHandler)
	}
}

// adjust applies a nested route's opts to the run, before the nested
// route's handler, which answers on w. It may be called on any goroutine
// (a sub-request): the output stack, which belongs to the run's
// goroutine, is touched only when w is the run's own writer.
func (rn *Run) adjust(opts []Option, w http.ResponseWriter) {
	if len(opts) == 0 {
		return
	}
	// Sub-requests on other goroutines may adjust at once: each change is
	// made on the settings it read, or made again.
	var cfg config
	for {
		old := rn.cfg.Load()
		cfg = *old
		cfg.set = 0
		_ = cfg.applyOptions(opts) // validated by Middleware
		if cfg.logger == nil {
			cfg.logger = old.logger
		}
		if rn.cfg.CompareAndSwap(old, &cfg) {
			break
		}
	}
	if cfg.set&setIgnoreUserAbort != 0 {
		rn.IgnoreUserAbort(cfg.ignoreUserAbort)
	}
	if cfg.set&(setTimeLimit|setStallTimeout) != 0 {
		rn.mu.Lock()
		switch {
		case rn.ex == nil || rn.timerMode == timerGrace || rn.timerMode == timerExpired:
			// The limit expired: the run must stop, as with SetTimeLimit.
		case cfg.set&setTimeLimit != 0:
			rn.armFromLocked(cfg.timeLimit, rn.start, time.Now())
		default:
			rn.needStallLocked(rn.limit)
		}
		rn.mu.Unlock()
	}
	if cfg.set&setOutputBuffering != 0 && rn.Phase() == PhaseRunning && rn.writesTo(w) {
		rn.resizeBaseBuffer(cfg.outputBuffering)
	}
}

// writesTo reports whether w is the run's own ResponseWriter, or wraps it
// with Unwrap methods (as [http.ResponseController] follows them): output to
// w goes to the run's output stack. A handler may only call w on the run's
// goroutine then, as with any ResponseWriter.
func (rn *Run) writesTo(w http.ResponseWriter) bool {
	for w != nil {
		if rw, ok := w.(*runWriter); ok {
			return rw.rn == rn
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false
		}
		w = u.Unwrap()
	}
	return false
}

// resizeBaseBuffer replaces the base output buffer with one of size (none
// for 0), when it is the only buffer and nothing has been written.
func (rn *Run) resizeBaseBuffer(size int) {
	st := rn.ex.stack
	if st.HeadersSent() || st.Level() > 1 {
		return
	}
	if levels := st.Status(); len(levels) == 1 {
		if !levels[0].Base {
			return // the code's own buffer, not the base one
		}
		if n, _ := st.Length(); n > 0 {
			return
		}
		if err := st.EndClean(); err != nil {
			return
		}
	}
	if size > 0 {
		_ = st.StartBase(size)
	}
}
