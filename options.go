package lifeline

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"
)

// Option configures a [Pool] ([NewPool]) or the runs of one route
// ([Pool.Middleware]). Options whose doc says "Pool only" are rejected on a route.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// poolOption is an Option that makes sense for the whole pool only.
type poolOption struct {
	name string
	f    func(*config)
}

func (o poolOption) apply(c *config) {
	o.f(c)
	c.poolOnly = append(c.poolOnly, o.name)
}

// config holds every setting. Defaults are in defaultConfig.
type config struct {
	timeLimit       time.Duration
	ignoreUserAbort bool
	logger          *slog.Logger
	timeoutHandler  http.Handler
	gracePeriod     time.Duration
	shutdownBudget  time.Duration
	outputBuffering int
	backgroundLimit time.Duration
	route           string
	stallTimeout    time.Duration

	// pool only
	onEnd        []func(Record)
	onEvent      []func(Event)
	maxActive    int
	queueTimeout time.Duration
	recentRuns   int

	poolOnly []string // names of pool-only options applied (rejected on routes)
	set      setting  // the settings with side effects on a live run that opts gave
}

// setting names the options whose change must act on a live run when a
// route adjusts a run that an outer middleware started (see Pool.Middleware).
type setting uint8

const (
	setTimeLimit setting = 1 << iota
	setIgnoreUserAbort
	setOutputBuffering
	setStallTimeout
)

// applyOptions applies opts to c in order. A nil option is an error naming
// its position.
func (c *config) applyOptions(opts []Option) error {
	for i, o := range opts {
		if o == nil {
			return fmt.Errorf("%w: opts[%d] is nil", ErrInvalidOption, i)
		}
		o.apply(c)
	}
	return nil
}

func defaultConfig() config {
	return config{
		timeLimit:       30 * time.Second,
		gracePeriod:     2 * time.Second,
		shutdownBudget:  2 * time.Second,
		outputBuffering: 4096,
		queueTimeout:    5 * time.Second,
		recentRuns:      256,
		stallTimeout:    60 * time.Second,
	}
}

// overtime is how long a write in flight at the time limit, or begun after
// it, may take: a quarter of a second, or the grace period if shorter.
func (c *config) overtime() time.Duration { return min(250*time.Millisecond, c.gracePeriod) }

func (c *config) validate() error {
	switch {
	case c.timeLimit < 0:
		return fmt.Errorf("%w: WithTimeLimit(%v): negative", ErrInvalidOption, c.timeLimit)
	case c.gracePeriod < 0:
		return fmt.Errorf("%w: WithGracePeriod(%v): negative", ErrInvalidOption, c.gracePeriod)
	case c.shutdownBudget < 0:
		return fmt.Errorf("%w: WithShutdownBudget(%v): negative", ErrInvalidOption, c.shutdownBudget)
	case c.outputBuffering < 0:
		return fmt.Errorf("%w: WithOutputBuffering(%d): negative", ErrInvalidOption, c.outputBuffering)
	case c.backgroundLimit < 0:
		return fmt.Errorf("%w: WithBackgroundLimit(%v): negative", ErrInvalidOption, c.backgroundLimit)
	case c.maxActive < 0:
		return fmt.Errorf("%w: WithMaxActive(%d): negative", ErrInvalidOption, c.maxActive)
	case c.queueTimeout < 0:
		return fmt.Errorf("%w: WithQueueTimeout(%v): negative", ErrInvalidOption, c.queueTimeout)
	case c.stallTimeout < 0:
		return fmt.Errorf("%w: WithStallTimeout(%v): negative", ErrInvalidOption, c.stallTimeout)
	case c.recentRuns < 0:
		return fmt.Errorf("%w: WithRecentRuns(%d): negative", ErrInvalidOption, c.recentRuns)
	case slices.ContainsFunc(c.onEnd, func(f func(Record)) bool { return f == nil }):
		return fmt.Errorf("%w: WithRunEnded(nil)", ErrInvalidOption)
	case slices.ContainsFunc(c.onEvent, func(f func(Event)) bool { return f == nil }):
		return fmt.Errorf("%w: WithRunEvent(nil)", ErrInvalidOption)
	}
	return nil
}

// WithTimeLimit sets the run's time limit, PHP's max_execution_time. The
// default is 30s, PHP's default; 0 means unlimited. Lifeline measures wall
// time, where PHP on Linux measures CPU time.
func WithTimeLimit(d time.Duration) Option {
	return optionFunc(func(c *config) { c.timeLimit = d; c.set |= setTimeLimit })
}

// WithIgnoreUserAbort sets whether runs go on when the client leaves, PHP's
// ignore_user_abort ini. The default is false: the run is terminated at its
// next output or [Run.Check].
func WithIgnoreUserAbort(ignore bool) Option {
	return optionFunc(func(c *config) { c.ignoreUserAbort = ignore; c.set |= setIgnoreUserAbort })
}

// WithLogger sets the logger for panics, runaway runs and misuse. The default
// is [slog.Default].
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithTimeoutResponse sets the handler that answers the client when a run
// hits its time limit before sending anything. The default answers 503
// Service Unavailable with a short text body. It runs on the connection
// goroutine with the original request, and must not block.
func WithTimeoutResponse(h http.Handler) Option {
	return optionFunc(func(c *config) { c.timeoutHandler = h })
}

// WithGracePeriod sets how long a run may go on after its time limit before
// it is declared runaway: the connection side then answers for it (or cuts
// the response short if it had started) and the run is counted as runaway.
// The default is 2s. PHP has no such state: at its hard_timeout it kills the
// process ([WithShutdownBudget] is the hard_timeout of shutdown functions);
// a Go program cannot kill a goroutine, so Lifeline answers for the run and
// keeps it visible instead.
func WithGracePeriod(d time.Duration) Option {
	return optionFunc(func(c *config) { c.gracePeriod = d })
}

// WithShutdownBudget sets how long shutdown functions may run once the time
// limit has expired, PHP's hard_timeout: their context ends after it. The
// default is 2s; 0 leaves them unbounded. While the time limit has not
// expired, shutdown functions share what is left of it, as in PHP.
func WithShutdownBudget(d time.Duration) Option {
	return optionFunc(func(c *config) { c.shutdownBudget = d })
}

// WithOutputBuffering sets the size of the base output buffer every run
// starts with, PHP's output_buffering ini: output reaches the client in
// chunks of this size, and a response shorter than it gets an exact
// Content-Length. The default is 4096, PHP's php.ini default; 0 disables the
// base buffer.
func WithOutputBuffering(size int) Option {
	return optionFunc(func(c *config) { c.outputBuffering = size; c.set |= setOutputBuffering })
}

// WithBackgroundLimit sets a separate time limit for the work a run does
// after [Run.Finish], counted from Finish. The default, 0, keeps the run's
// own time limit running.
func WithBackgroundLimit(d time.Duration) Option {
	return optionFunc(func(c *config) { c.backgroundLimit = d })
}

// WithStallTimeout bounds how long one write of the response may wait for a
// client that is alive but takes nothing (a paused download, a zero TCP or
// HTTP/2 window), like nginx's send_timeout. Past it the run is aborted with
// [CauseStalled] ([ErrStalled]) and the response is cut. A slow client that
// keeps taking bytes is never cut. The default is 60s, nginx's default; 0
// disables the bound (the time limit still ends the run). A client that
// acknowledges nothing at all is a silent peer, found much sooner by the
// dead-peer timeout of package server.
func WithStallTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.stallTimeout = d; c.set |= setStallTimeout })
}

// WithRoute names the route, for records, logs and metrics. The default is
// no name ("").
func WithRoute(name string) Option {
	return optionFunc(func(c *config) { c.route = name })
}

// WithRunEnded adds a function that gets the final [Record] of every run
// when it ends, exactly once per run, for logs, metrics and tracing that must
// miss none (the ring of [Pool.Recent] is bounded and polled). Each call adds
// one more function; they are called in the order given, on the goroutine
// that ends the run, after the run left [Pool.Active], and [Pool.Shutdown]
// returns only after the last of them has returned. A function must not
// block, and a panic in it is recovered and logged. A nil function is an
// error from [NewPool]. Pool only; the default is none.
func WithRunEnded(f func(Record)) Option {
	return poolOption{"WithRunEnded", func(c *config) { c.onEnd = append(c.onEnd, f) }}
}

// WithRunEvent adds a function that gets each [Event] of every run at the
// moment it happens, for tracing: the Finish, a client abort (also one the
// run ignores), the time limit, a runaway, the pool's shutdown, the start and
// end of the shutdown functions, and the delivery verdict. Each kind is
// reported at most once per run. Each call adds one more function; they are
// called in the order given, on the goroutine that saw the event (each
// [EventKind] says which), possibly with the pool's internal locks held: a
// function must return promptly, must not block and must not call back into
// the pool or the run. A panic in it is recovered and logged. [Pool.Shutdown]
// waits for the delivery verdict of every run that finished early (deciding
// it [DeliveryUnknown] when its ctx ends first), so each such run gets its
// EventDelivery, and returns only after the last of the functions has
// returned. A pool without it, the default, pays nothing per run. A nil
// function is an error from [NewPool]. Pool only.
func WithRunEvent(f func(Event)) Option {
	return poolOption{"WithRunEvent", func(c *config) { c.onEvent = append(c.onEvent, f) }}
}

// WithMaxActive caps the number of runs in the pool at once, including runs
// still working after Finish, like PHP-FPM's pm.max_children. A request over
// the cap waits up to the queue timeout for a slot, then gets 503 with
// Retry-After. The default, 0, means no cap. Pool only.
func WithMaxActive(n int) Option {
	return poolOption{"WithMaxActive", func(c *config) { c.maxActive = n }}
}

// WithQueueTimeout sets how long a request waits for a slot when the pool is
// at its [WithMaxActive] cap. The default is 5s. Pool only.
func WithQueueTimeout(d time.Duration) Option {
	return poolOption{"WithQueueTimeout", func(c *config) { c.queueTimeout = d }}
}

// WithRecentRuns sets how many final records of ended runs [Pool.Recent]
// keeps. The default is 256. Pool only.
func WithRecentRuns(n int) Option {
	return poolOption{"WithRecentRuns", func(c *config) { c.recentRuns = n }}
}
