package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Option configures a [Manager]; pass options to [New], which validates
// them once. A nil Option is an error wrapping [ErrInvalidOption].
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	cookieName     string
	cookiePath     string
	cookieDomain   string
	sameSite       http.SameSite
	secure         bool // always Secure, not only when r.TLS != nil
	persistent     bool
	lifetime       time.Duration
	idleTimeout    time.Duration
	lockWait       time.Duration
	lockTTL        time.Duration
	maxLockHold    time.Duration
	storeTimeout   time.Duration
	lazyWrite      bool
	keepAfterFinal bool
	logger         *slog.Logger
	errorHandler   func(http.ResponseWriter, *http.Request, error) // nil: Manager.handleError
	nilHandler     bool                                            // WithErrorHandler(nil) was given
	acceptID       func(id string) bool                            // WithMigration; nil: Lifeline ids only
	importSession  ImportFunc                                      // WithMigration; may be nil
	migrationSet   bool                                            // WithMigration was given
}

func defaultOptions() options {
	return options{
		cookieName:   "lifeline_session",
		cookiePath:   "/",
		sameSite:     http.SameSiteLaxMode,
		lifetime:     24 * time.Hour,
		idleTimeout:  24 * time.Minute,
		lockWait:     10 * time.Second,
		lockTTL:      30 * time.Second,
		maxLockHold:  5 * time.Minute,
		storeTimeout: 5 * time.Second,
		lazyWrite:    true,
	}
}

func (o *options) validate() error {
	var errs []error
	if err := (&http.Cookie{Name: o.cookieName, Value: "x"}).Valid(); err != nil {
		errs = append(errs, fmt.Errorf("cookie name %q: %w", o.cookieName, err))
	}
	if o.lifetime <= 0 {
		errs = append(errs, fmt.Errorf("lifetime %v must be positive", o.lifetime))
	}
	if o.idleTimeout <= 0 {
		errs = append(errs, fmt.Errorf("idle timeout %v must be positive", o.idleTimeout))
	}
	if o.lockWait < 0 {
		errs = append(errs, fmt.Errorf("lock wait %v must not be negative", o.lockWait))
	}
	if o.lockTTL < 30*time.Millisecond {
		errs = append(errs, fmt.Errorf("lock TTL %v must be at least 30ms", o.lockTTL))
	}
	if o.maxLockHold < o.lockTTL {
		errs = append(errs, fmt.Errorf("max lock hold %v must be at least the lock TTL %v", o.maxLockHold, o.lockTTL))
	}
	if o.storeTimeout <= 0 {
		errs = append(errs, fmt.Errorf("store timeout %v must be positive", o.storeTimeout))
	}
	if o.sameSite == http.SameSiteNoneMode && !o.secure {
		errs = append(errs, errors.New("SameSite=None needs WithSecure(true): browsers reject it otherwise"))
	}
	if o.migrationSet && o.acceptID == nil {
		errs = append(errs, errors.New("WithMigration: nil accept function"))
	}
	if o.nilHandler {
		errs = append(errs, errors.New("nil error handler"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidOption, errors.Join(errs...))
	}
	return nil
}

// WithCookieName sets the session cookie's name; default "lifeline_session"
// (PHP's session.name, PHPSESSID).
func WithCookieName(name string) Option { return optionFunc(func(o *options) { o.cookieName = name }) }

// WithCookiePath sets the cookie's Path; default "/".
func WithCookiePath(path string) Option { return optionFunc(func(o *options) { o.cookiePath = path }) }

// WithCookieDomain sets the cookie's Domain; default none (host-only).
func WithCookieDomain(domain string) Option {
	return optionFunc(func(o *options) { o.cookieDomain = domain })
}

// WithSameSite sets the cookie's SameSite attribute; default
// [http.SameSiteLaxMode]. SameSite=None requires WithSecure(true).
func WithSameSite(s http.SameSite) Option { return optionFunc(func(o *options) { o.sameSite = s }) }

// WithSecure(true) marks the cookie Secure on every request, for servers
// behind a TLS-terminating proxy. Default false: Secure when r.TLS != nil.
// The cookie is always HttpOnly.
func WithSecure(always bool) Option { return optionFunc(func(o *options) { o.secure = always }) }

// WithPersistentCookie(true) gives the cookie an expiry at the end of the
// session's lifetime, so it survives a browser restart. Default false: a
// browser-session cookie (PHP's session.cookie_lifetime = 0).
func WithPersistentCookie(persistent bool) Option {
	return optionFunc(func(o *options) { o.persistent = persistent })
}

// WithLifetime sets the absolute lifetime of a session, counted from its
// creation and kept across [Session.Regenerate]; default 24h.
func WithLifetime(d time.Duration) Option { return optionFunc(func(o *options) { o.lifetime = d }) }

// WithIdleTimeout sets how long a session lives without being used; default
// 24 minutes (PHP's session.gc_maxlifetime, 1440 s). Every closed session
// moves its store expiry to this far ahead (or to the lifetime's end, if
// sooner). It is not a connection's keep-alive timeout
// (server.WithKeepAliveTimeout).
func WithIdleTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.idleTimeout = d })
}

// WithLockWait bounds how long [Manager.Start] waits for a session's lock
// before it returns [ErrLockTimeout]; default 10s. 0 waits as long as the
// request context allows, as PHP waits forever (a Lifeline run's time limit
// still ends the wait).
func WithLockWait(d time.Duration) Option { return optionFunc(func(o *options) { o.lockWait = d }) }

// WithLockTTL sets the TTL of a session lock in the store; default 30s,
// minimum 30ms. The Manager refreshes held locks every third of it, so the
// TTL only matters when the holder's process dies: then the lock frees
// itself after at most this long.
func WithLockTTL(d time.Duration) Option { return optionFunc(func(o *options) { o.lockTTL = d }) }

// WithMaxLockHold bounds how long the Manager keeps refreshing one session's
// lock; default 5 minutes. A session still held after that (a stuck handler,
// a session started outside a run and never closed) loses its lock one TTL
// later, and its write is refused with [ErrLockLost]: a session never stays
// locked forever. Raise it for runs that keep their session through long
// work after Finish.
func WithMaxLockHold(d time.Duration) Option {
	return optionFunc(func(o *options) { o.maxLockHold = d })
}

// WithStoreTimeout bounds the store calls the Manager makes on its own
// context: writing the session at the end of a run, releasing locks after a
// failed write, refreshing locks; default 5s.
func WithStoreTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.storeTimeout = d })
}

// WithLazyWrite sets PHP's session.lazy_write; default true: a session
// whose data did not change is not rewritten, only its expiry is moved
// ([Store.Touch]). With false every close rewrites the data.
func WithLazyWrite(lazy bool) Option { return optionFunc(func(o *options) { o.lazyWrite = lazy }) }

// WithKeepAfterFinish(true) makes every session of a Lifeline run stay
// locked past [lifeline.Run.Finish] until the end of the run, as PHP-FPM
// does; see [Session.KeepAfterFinish]. Default false: Finish writes and
// unlocks the session before the client gets the response.
func WithKeepAfterFinish(keep bool) Option {
	return optionFunc(func(o *options) { o.keepAfterFinal = keep })
}

// WithLogger sets the logger for errors nobody can return (a failed write at
// the end of a run, a lost lock); default [slog.Default].
func WithLogger(l *slog.Logger) Option { return optionFunc(func(o *options) { o.logger = l }) }

// WithErrorHandler sets what [Manager.Handler] answers when the session
// cannot be started. The default answers a short message and an id the
// client can quote, never the error's text, and logs the error with the
// same id ([WithLogger]): 503 with Retry-After: 1 for [ErrLockTimeout]
// ("session busy") and [ErrStoreUnavailable] ("session store
// unavailable"), 500 otherwise. A handler given here should not show err
// to the client either: a store's error names its address or its file.
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return optionFunc(func(o *options) { o.errorHandler, o.nilHandler = h, h == nil })
}

// ImportFunc loads the session id of an existing system for [WithMigration]:
// its values, as Go values that encoding/json can encode, or nil values and
// a nil error when that system does not know id (or its session expired).
// An error makes [Manager.Start] fail with it; wrap [ErrStoreUnavailable]
// for a system that cannot be reached, so that the default error handler
// answers 503. It is called on the request's goroutine, with the request's
// context, while the session's lock is held.
type ImportFunc func(ctx context.Context, id string) (values map[string]any, err error)

// WithMigration makes the Manager accept the session ids of an existing
// system, for users moving an application, such as a PHP one, whose
// visitors hold its session cookies (give its cookie name too:
// WithCookieName("PHPSESSID")). Default none: only ids of the form the
// Manager issues ([ParseID]) are read from cookies.
//
// A cookie value that is not a Lifeline id is used when accept reports true
// for it, and it is 1 to 256 characters of A-Z a-z 0-9 , - _ . (what any
// store can key safely; [PHPSessionID] accepts PHP's ids). Strict mode
// stays: such an id is used only when the store already holds a live
// session under it (imported beforehand), or when load, if not nil, returns
// its values from the old system: the session is then started under that
// id with those values and saved in the store at its close, and load is not
// asked again. Any other id gets a new session with a fresh Lifeline id, as
// always. New sessions always get Lifeline ids, and [Session.Regenerate]
// (at login, for instance) moves a migrated visitor to one.
// [Manager.StartReadOnly] reads only what the store holds; it never calls
// load.
func WithMigration(accept func(id string) bool, load ImportFunc) Option {
	return optionFunc(func(o *options) {
		o.acceptID, o.importSession, o.migrationSet = accept, load, true
	})
}
