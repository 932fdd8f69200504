package idempotency

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Option configures a [Middleware]. Options are made by the With
// functions of this package and checked once, by [New].
type Option interface {
	apply(*options)
}

// optionFunc is the Option of the With functions.
type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	header          string
	replayHeader    string
	methods         []string
	requireKey      bool
	principal       func(*http.Request) string
	ttl             time.Duration
	lease           time.Duration
	maxRequestBody  int64
	maxResponseBody int64
	wait            time.Duration
	ignoreUserAbort bool
	storeTimeout    time.Duration
	logger          *slog.Logger
	onReplay        func(context.Context, *Replay)
	deliveryTimeout time.Duration
}

func defaultOptions() options {
	return options{
		header:          "Idempotency-Key",
		replayHeader:    "Idempotent-Replayed",
		methods:         []string{http.MethodPost, http.MethodPatch},
		ttl:             24 * time.Hour,
		lease:           10 * time.Second,
		maxRequestBody:  1 << 20,
		maxResponseBody: 1 << 20,
		ignoreUserAbort: true,
		storeTimeout:    5 * time.Second,
		logger:          slog.Default(),
		deliveryTimeout: 10 * time.Second,
	}
}

func (o *options) validate() error {
	switch {
	case !isToken(o.header):
		return fmt.Errorf("%w: WithHeader(%q): not a valid header field name", ErrInvalidOption, o.header)
	case !isToken(o.replayHeader):
		return fmt.Errorf("%w: WithReplayHeader(%q): not a valid header field name", ErrInvalidOption, o.replayHeader)
	case len(o.methods) == 0:
		return fmt.Errorf("%w: WithMethods: no method given", ErrInvalidOption)
	case o.ttl <= 0:
		return fmt.Errorf("%w: WithTTL(%v): must be positive", ErrInvalidOption, o.ttl)
	case o.lease < minLease:
		return fmt.Errorf("%w: WithLease(%v): must be at least %v", ErrInvalidOption, o.lease, minLease)
	case o.maxRequestBody <= 0:
		return fmt.Errorf("%w: WithMaxRequestBody(%d): must be positive", ErrInvalidOption, o.maxRequestBody)
	case o.maxResponseBody < 0:
		return fmt.Errorf("%w: WithMaxResponseBody(%d): must not be negative", ErrInvalidOption, o.maxResponseBody)
	case o.wait < 0:
		return fmt.Errorf("%w: WithWait(%v): must not be negative", ErrInvalidOption, o.wait)
	case o.storeTimeout < 0:
		return fmt.Errorf("%w: WithStoreTimeout(%v): must not be negative", ErrInvalidOption, o.storeTimeout)
	case o.deliveryTimeout <= 0:
		return fmt.Errorf("%w: WithDeliveryTimeout(%v): must be positive", ErrInvalidOption, o.deliveryTimeout)
	case o.logger == nil:
		return fmt.Errorf("%w: WithLogger(nil)", ErrInvalidOption)
	}
	for _, m := range o.methods {
		if !isToken(m) {
			return fmt.Errorf("%w: WithMethods: %q is not a valid method", ErrInvalidOption, m)
		}
	}
	return nil
}

// WithHeader sets the request header field that carries the key. The
// default is "Idempotency-Key", the field of the IETF draft and of Stripe.
func WithHeader(name string) Option {
	return optionFunc(func(o *options) { o.header = name })
}

// WithReplayHeader sets the response header field, with the value "true",
// that marks a replayed response. The default is "Idempotent-Replayed" (as
// Stripe's API sends it).
func WithReplayHeader(name string) Option {
	return optionFunc(func(o *options) { o.replayHeader = name })
}

// WithMethods sets the request methods the middleware protects; requests
// with other methods pass through untouched, key or not. The default is
// POST and PATCH, the non-idempotent methods the IETF draft names.
func WithMethods(methods ...string) Option {
	return optionFunc(func(o *options) { o.methods = append([]string(nil), methods...) })
}

// WithRequireKey makes a protected request without the key header fail with
// 400 Bad Request instead of running unprotected. The default is false.
func WithRequireKey(require bool) Option {
	return optionFunc(func(o *options) { o.requireKey = require })
}

// WithPrincipal binds keys to the caller that sent them: fn returns who
// sent the request (a user or API-client ID, never something the client
// can choose freely), and one principal's key can neither see nor block
// another's. All requests share one key space by default, which is only
// right when keys are secret random values and responses hold nothing
// private.
func WithPrincipal(fn func(r *http.Request) string) Option {
	return optionFunc(func(o *options) { o.principal = fn })
}

// WithTTL sets how long a completed key is remembered, counted from the end
// of its run; a request with the key after that runs again. The default is
// 24 hours, Stripe's key lifetime.
func WithTTL(d time.Duration) Option {
	return optionFunc(func(o *options) { o.ttl = d })
}

// minLease is the shortest lease [WithLease] accepts: renewals every third
// of it must stay far apart from store round trips.
const minLease = 100 * time.Millisecond

// WithLease sets how long a key's reservation lives without being renewed.
// While its run is alive the middleware renews it every third of d, so a
// run may take as long as it needs; if the process dies (a crash, an OOM
// kill, a deploy that does not drain) the renewals stop and the key is free
// again d later, and a retry runs. The default is 10 seconds; d must be at
// least 100ms, and longer than the store's worst stall, since a run whose
// renewals all fail for d loses its reservation (with a transactional store
// such as sqlstore its answer is then refused in its own transaction, so
// two runs can still never both commit).
func WithLease(d time.Duration) Option {
	return optionFunc(func(o *options) { o.lease = d })
}

// WithMaxRequestBody sets how many bytes of request body the middleware
// reads to fingerprint a protected request; a longer body is refused with
// 413 Content Too Large before the handler runs, at once if its
// Content-Length says so. The body is read as it arrives, and the memory it
// takes grows with the bytes received, not with the length the client
// declares. The default is 1 MiB.
func WithMaxRequestBody(n int64) Option {
	return optionFunc(func(o *options) { o.maxRequestBody = n })
}

// WithMaxResponseBody sets the largest response body that is stored for
// replay. A run with a longer body is still recorded as done, without its
// body, and its replays say so (see [Middleware.Handler]). 0 stores no
// bodies. The default is 1 MiB.
func WithMaxResponseBody(n int64) Option {
	return optionFunc(func(o *options) { o.maxResponseBody = n })
}

// WithWait makes a request whose key is in progress wait up to d for the
// run to finish and then get its replay, instead of an immediate 409
// Conflict; after d it gets the 409. If the run releases the key (it failed
// with a 5xx or panicked, or its process died and its lease ran out) the
// waiting request runs itself. Inside a Lifeline run the wait also ends one
// second before the waiting run's own time limit, so that it answers 409
// itself instead of being stopped by the limit; a run that waited and then
// runs starts its time limit again (PHP counts CPU time, which waiting does
// not use). Setting d to the pool's time limit thus waits as long as the run
// in progress can last. The default is 0, no waiting, as the IETF draft
// describes.
func WithWait(d time.Duration) Option {
	return optionFunc(func(o *options) { o.wait = d })
}

// WithIgnoreUserAbort sets whether a protected run goes on when its client
// disconnects. The default is true: the client will retry with the same key
// and must get the result of a run that finished, never a second run ("card
// charged, but not in my DB", as PHP's manual notes tell). Inside a Lifeline run the
// middleware calls [lifeline.Run.IgnoreUserAbort](true); outside one, the
// handler gets a context that the client's disconnect does not cancel
// ([context.WithoutCancel]), so bound its work yourself.
func WithIgnoreUserAbort(ignore bool) Option {
	return optionFunc(func(o *options) { o.ignoreUserAbort = ignore })
}

// WithStoreTimeout bounds each store call. Completing or releasing a key
// uses a context detached from the request's, so a client that left cannot
// prevent its result from being recorded. 0 sets no deadline of the
// middleware's own, which saves a timer per call when the store bounds its
// calls itself (memstore never blocks; go-redis has read and write
// timeouts). The default is 5 seconds.
func WithStoreTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.storeTimeout = d })
}

// WithLogger sets the logger for store failures that cannot reach the
// client, such as a result that could not be recorded. The default is
// [slog.Default] at the time [New] is called.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// WithOnReplay sets a function that is told about every replay, once the
// replay has been written and, inside a Lifeline run, once its delivery is
// known: Replay.Delivery says whether the recorded answer reached the
// client this time. It is how an application learns that a client it
// could not reach the first time (the order recorded "unconfirmed" because
// its answer was undelivered) now has the answer, and can mark the order
// confirmed; the key of the order is in the request or the record.
//
// Inside Lifeline the replay's run is finished ([lifeline.Run.Finish]) after
// the replay is written, user aborts are ignored from then on, and fn runs
// on the run's goroutine after [lifeline.Run.AwaitDelivery], bounded by
// [WithDeliveryTimeout]; outside Lifeline fn runs on the handler's
// goroutine with lifeline.DeliveryUnknown. ctx carries the request's values
// and is not cancelled when the client leaves. The default is nil: no
// function, no waiting, nothing finished early.
func WithOnReplay(fn func(ctx context.Context, rp *Replay)) Option {
	return optionFunc(func(o *options) { o.onReplay = fn })
}

// WithDeliveryTimeout bounds the wait for a replay's delivery before the
// function of [WithOnReplay] is called; a replay whose delivery is not
// known by then is reported lifeline.DeliveryPending. A silent peer is
// found by the server's dead-peer timeout, so the bound should be a few
// seconds longer than that. The default is 10 seconds.
func WithDeliveryTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.deliveryTimeout = d })
}

// isToken reports whether s is an RFC 9110 token, the syntax of header
// field names and methods.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c < 0x21 || c > 0x7e:
			return false
		default:
			switch c {
			case '(', ')', ',', '/', ':', ';', '<', '=', '>', '?', '@', '[', '\\', ']', '{', '}', '"':
				return false
			}
		}
	}
	return true
}
