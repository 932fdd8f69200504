package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/output"
)

// Headers-sent locations name the code that wrote, not this package.
func init() { output.SkipPackage("github.com/lifeline-go/lifeline/session") }

// Manager starts sessions on one [Store] with one configuration. It is safe
// for concurrent use; create one per application with [New].
type Manager struct {
	store        Store
	opts         options
	log          *slog.Logger
	errorHandler func(http.ResponseWriter, *http.Request, error) // Manager.Handler's

	mu   sync.Mutex                 // guards runs
	runs map[*lifeline.Run]*Session // the active session of each Lifeline run
}

// New returns a Manager that keeps sessions in store. The options are
// validated once, here; an invalid one returns an error wrapping
// [ErrInvalidOption].
func New(store Store, opts ...Option) (*Manager, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: nil store", ErrInvalidOption)
	}
	o := defaultOptions()
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: option %d is nil", ErrInvalidOption, i+1)
		}
		opt.apply(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	log := o.logger
	if log == nil {
		log = slog.Default()
	}
	m := &Manager{store: store, opts: o, log: log, runs: make(map[*lifeline.Run]*Session)}
	m.errorHandler = o.errorHandler
	if m.errorHandler == nil {
		m.errorHandler = m.handleError
	}
	return m, nil
}

// Start starts the request's session and takes its exclusive lock (PHP's
// session_start): a second request with the same session waits in Start
// until the first one releases it, for at most the lock wait
// ([WithLockWait], 10s by default). Then it returns an error matching
// [ErrLockTimeout]; if the request context ends first (inside a Lifeline
// run: client abort, time limit), an error matching its cause.
//
// The id comes from the session cookie. Strict mode is always on: an id the
// store does not know is never adopted; a new session with a fresh id is
// started instead and its cookie set on w.Header(). A record that cannot be
// decoded is destroyed and Start returns an error matching [ErrCorrupt].
//
// The lock is held until [Session.WriteClose], [Session.Abort] or
// [Session.Destroy]. Inside a Lifeline run ([lifeline.FromContext]) it is
// also released for you: at [lifeline.Run.Finish], before the client gets
// the response, unless the session is kept ([Session.KeepAfterFinish]), or
// at the end of the run, after the shutdown functions (PHP's order). Inside
// a run Start returns an error matching [ErrHeadersSent] once the headers
// went out. Outside a run, use [Manager.Handler] or defer WriteClose.
//
// Called again while the request's session is active (same run, or under
// [Manager.Handler]) Start returns that session, as PHP ignores a second
// session_start.
func (m *Manager) Start(w http.ResponseWriter, r *http.Request) (*Session, error) {
	ctx := r.Context()
	rn, _ := lifeline.FromContext(ctx)
	if s := m.active(ctx, rn); s != nil {
		return s, nil
	}
	if rn != nil && rn.Output().HeadersSent() {
		return nil, headersSent(rn, "session cannot be started")
	}
	s := m.newSession(ctx, w, r, rn)
	if err := s.open(ctx, m.requestID(ctx, r)); err != nil {
		return nil, err
	}
	m.attach(s)
	return s, nil
}

// StartReadOnly loads the request's session without locking it (PHP's
// session_start(['read_and_close' => true])): it never waits for a lock
// holder, and the session it returns is already closed, so changes fail
// with [ErrSessionClosed]. What it reads is the last saved state; a
// concurrent holder may be changing it. Without a known session it returns
// an empty session whose ID is "", and sets no cookie. A record that cannot
// be decoded returns an error matching [ErrCorrupt].
func (m *Manager) StartReadOnly(r *http.Request) (*Session, error) {
	ctx := r.Context()
	s := &Session{m: m, values: make(map[string]json.RawMessage)}
	id := m.requestID(ctx, r)
	if id == "" {
		return s, nil
	}
	data, err := m.store.Load(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("session: read: %w", err)
	}
	deadline, values, err := decodeRecord(data)
	if err != nil {
		return nil, fmt.Errorf("session: read: %w", err)
	}
	if !time.Now().Before(deadline) {
		return s, nil
	}
	s.id, s.deadline, s.values, s.loaded = id, deadline, values, data
	return s, nil
}

// requestID returns the session id of r's cookie. When r carries several
// well-formed session cookies (a stale or planted one, for another path or
// a parent domain, sent first), it returns the first that names a live
// session in the store, read without a lock, so that the bogus cookie
// cannot replace the visitor's valid session (issue 19; PHP takes the
// first). With none live, or one cookie, it returns the first.
func (m *Manager) requestID(ctx context.Context, r *http.Request) string {
	ids := idsFromRequest(r, m.opts.cookieName, m.opts.acceptID)
	switch len(ids) {
	case 0:
		return ""
	case 1:
		return ids[0]
	}
	for _, id := range ids {
		data, err := m.store.Load(ctx, id)
		if err != nil {
			continue // not found, or the store is down: open will say so
		}
		if deadline, _, err := decodeRecord(data); err == nil && time.Now().Before(deadline) {
			return id
		}
	}
	return ids[0]
}

func (m *Manager) newSession(ctx context.Context, w http.ResponseWriter, r *http.Request, rn *lifeline.Run) *Session {
	return &Session{
		m:      m,
		w:      w,
		rn:     rn,
		bg:     context.WithoutCancel(ctx),
		secure: m.opts.secure || r.TLS != nil,
	}
}

// active returns the request's active session started by m, if any.
func (m *Manager) active(ctx context.Context, rn *lifeline.Run) *Session {
	if s, ok := FromContext(ctx); ok && s.m == m && s.Active() {
		return s
	}
	if rn == nil {
		return nil
	}
	m.mu.Lock()
	s := m.runs[rn]
	m.mu.Unlock()
	if s != nil && s.Active() {
		return s
	}
	return nil
}

// lock takes id's lock, waiting at most the lock wait.
func (m *Manager) lock(ctx context.Context, id string) (LockToken, error) {
	if m.opts.lockWait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, m.opts.lockWait, ErrLockTimeout)
		defer cancel()
	}
	tok, err := m.store.Lock(ctx, id, m.opts.lockTTL)
	if err == nil {
		return tok, nil
	}
	if cause := context.Cause(ctx); ctx.Err() != nil && !errors.Is(err, cause) {
		err = fmt.Errorf("%w (%w)", cause, err) // a store that returned ctx.Err() only
	}
	return LockToken{}, fmt.Errorf("lock %s: %w", fingerprint(id), err) // callers prefix "session: start: " etc.
}

// unlock releases id's lock even when ctx is already cancelled: a session
// must not stay locked because its request was aborted.
func (m *Manager) unlock(ctx context.Context, id string, tok LockToken) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.opts.storeTimeout)
	defer cancel()
	if err := m.store.Unlock(ctx, id, tok); err != nil {
		return fmt.Errorf("session: unlock %s: %w", fingerprint(id), err)
	}
	return nil
}

// ttl returns how long a session with this deadline should live in the
// store from now: the idle timeout, or less if the lifetime ends sooner.
func (m *Manager) ttl(deadline time.Time) time.Duration {
	return min(m.opts.idleTimeout, time.Until(deadline))
}

// headersSent returns PHP's "... after headers have already been sent"
// error, matching ErrHeadersSent and, with the location of the output that
// sent them, output.ErrHeadersSent.
func headersSent(rn *lifeline.Run, what string) error {
	file, line, _ := rn.Output().HeadersSentAt()
	return fmt.Errorf("session: %s after headers have already been sent: %w: %w",
		what, ErrHeadersSent, &output.HeadersSentError{File: file, Line: line})
}
