package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/lifeline-go/lifeline"
)

// Session is one request's session: its values (PHP's $_SESSION) and, while
// active, its lock. Get a Session from [Manager.Start] or
// [Manager.StartReadOnly]. Its methods are safe for concurrent use, but
// belong to the request: changes are allowed while the session is active,
// from Start until [Session.WriteClose], [Session.Abort],
// [Session.Destroy], or the end of the Lifeline run. Reading stays
// possible afterwards, from the copy the request loaded (which another
// request may have changed since).
type Session struct {
	m      *Manager
	w      http.ResponseWriter // nil for read-only sessions
	rn     *lifeline.Run       // nil outside a Lifeline run
	bg     context.Context     // the request's values without its cancellation, for renewals
	secure bool                // Secure cookie

	mu       sync.Mutex // guards the fields below
	id       string
	active   bool
	isNew    bool // not yet in the store: written at close whatever lazy write says
	keep     bool
	deadline time.Time
	values   map[string]json.RawMessage
	loaded   []byte // the record as loaded, for lazy write
	tok      LockToken
	renew    *renewer
	cleanup  runtime.Cleanup
}

// ID returns the session id (PHP's session_id()), or "" for an empty
// read-only session.
func (s *Session) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// IsNew reports whether the session was created by this request (or got a
// new id from [Session.Regenerate]) and is not in the store yet.
func (s *Session) IsNew() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isNew
}

// Active reports whether the session holds its lock and accepts changes
// (PHP's session_status() == PHP_SESSION_ACTIVE).
func (s *Session) Active() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// Get decodes the value stored under key into dst, which must be a
// pointer, and reports whether the key exists. A stored value that does not
// decode into dst returns an error matching [ErrCorrupt]; dst is then
// unspecified. Get works on closed sessions too.
func (s *Session) Get(key string, dst any) (bool, error) {
	s.mu.Lock()
	raw, ok := s.values[key]
	s.mu.Unlock()
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		var invalid *json.InvalidUnmarshalError
		if errors.As(err, &invalid) {
			return true, fmt.Errorf("session: get %q: %w", key, err)
		}
		return true, fmt.Errorf("session: get %q: %w: %w", key, ErrCorrupt, err)
	}
	return true, nil
}

// Value returns the value stored under key as a T, and whether it exists.
// A stored value that is not a T returns an error matching [ErrCorrupt].
func Value[T any](s *Session, key string) (T, bool, error) {
	var v T
	ok, err := s.Get(key, &v)
	return v, ok, err
}

// Set stores v under key. v is encoded as JSON now, so a value that cannot
// be encoded is reported here, not when the session is written. Set returns
// an error matching [ErrSessionClosed] once the session is closed: write
// before WriteClose or Finish; a change after them is refused, never lost
// silently.
func (s *Session) Set(key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("session: set %q: %w", key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active {
		return fmt.Errorf("session: set %q: %w", key, ErrSessionClosed)
	}
	s.values[key] = raw
	return nil
}

// Delete removes key (PHP's unset($_SESSION[key])). It returns an error
// matching [ErrSessionClosed] once the session is closed.
func (s *Session) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active {
		return fmt.Errorf("session: delete %q: %w", key, ErrSessionClosed)
	}
	delete(s.values, key)
	return nil
}

// Clear removes every value (PHP's session_unset()). It returns an error
// matching [ErrSessionClosed] once the session is closed.
func (s *Session) Clear() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active {
		return fmt.Errorf("session: clear: %w", ErrSessionClosed)
	}
	clear(s.values)
	return nil
}

// Keys returns the keys of the stored values, sorted.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.values))
}

// KeepAfterFinish keeps the session locked past [lifeline.Run.Finish], so
// that work after Finish can still change it; it is then written and
// unlocked at the end of the run, after the shutdown functions, as PHP-FPM
// does. Meanwhile the next request of the same client waits for the lock:
// what a user note in PHP's manual describes as "the new page cannot load
// until the original processing has finished". Outside a run it does
// nothing.
func (s *Session) KeepAfterFinish() {
	s.mu.Lock()
	s.keep = true
	s.mu.Unlock()
}
