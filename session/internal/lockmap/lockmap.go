// Package lockmap is an in-process table of session locks with a TTL, FIFO
// waiting and direct hand-off. It is the lock of package memstore and package
// boltstore, and the local gate in front of Redis in package redisstore (so
// that one process sends at most one contender per id to Redis).
//
// Waiting is notified, never polled: a release hands the lock to the oldest
// waiter and wakes it through its own channel, and a timer per held lock
// expires it when its holder stops refreshing it.
package lockmap

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/lifeline-go/lifeline/session"
)

// ErrBadTTL is returned by Lock and Refresh for a TTL that is not positive.
var ErrBadTTL = errors.New("lockmap: lock TTL must be positive")

// Map is a table of locks keyed by session id. The zero value is not usable;
// call [New]. All methods are safe for concurrent use.
type Map struct {
	mu    sync.Mutex        // guards locks and fence
	locks map[string]*entry // present while the lock is held
	fence uint64            // last fence granted
}

// entry is one held lock and its queue of waiters.
type entry struct {
	tok     session.LockToken
	expires time.Time
	timer   *time.Timer // fires at expires (a stale firing re-checks)
	pins    int         // changes in progress; expiry waits for them
	lapsed  bool        // expired while pinned: released when unpinned
	waiters []*waiter   // FIFO
}

// waiter is a goroutine blocked in Lock.
type waiter struct {
	ttl     time.Duration
	ch      chan session.LockToken // cap 1: the grant, sent under Map.mu
	granted bool                   // guarded by Map.mu
}

// New returns an empty table whose fences start after base: a store that
// persists (boltstore) passes a base above every fence it granted before.
func New(base uint64) *Map {
	return &Map{locks: make(map[string]*entry), fence: base}
}

// Lock blocks until it holds id's lock, then returns its token; the lock
// expires ttl later unless refreshed. Waiters are served in arrival order.
// When ctx is done first it returns an error wrapping context.Cause(ctx) and
// holds nothing.
func (m *Map) Lock(ctx context.Context, id string, ttl time.Duration) (session.LockToken, error) {
	if ttl <= 0 {
		return session.LockToken{}, ErrBadTTL
	}
	if ctx.Err() != nil {
		return session.LockToken{}, fmt.Errorf("lockmap: lock: %w", context.Cause(ctx))
	}
	m.mu.Lock()
	e := m.locks[id]
	if e == nil {
		e = &entry{}
		m.locks[id] = e
		tok := m.grantLocked(id, e, ttl)
		m.mu.Unlock()
		return tok, nil
	}
	w := &waiter{ttl: ttl, ch: make(chan session.LockToken, 1)}
	e.waiters = append(e.waiters, w)
	m.mu.Unlock()

	select {
	case tok := <-w.ch:
		return tok, nil
	case <-ctx.Done():
	}
	m.mu.Lock()
	if !w.granted {
		if e := m.locks[id]; e != nil {
			e.waiters = slices.DeleteFunc(e.waiters, func(x *waiter) bool { return x == w })
		}
		m.mu.Unlock()
		return session.LockToken{}, fmt.Errorf("lockmap: lock: %w", context.Cause(ctx))
	}
	m.mu.Unlock()
	// Granted while giving up: pass the lock on.
	_ = m.Unlock(id, <-w.ch)
	return session.LockToken{}, fmt.Errorf("lockmap: lock: %w", context.Cause(ctx))
}

// grantLocked makes a new token the holder of e and arms its expiry.
func (m *Map) grantLocked(id string, e *entry, ttl time.Duration) session.LockToken {
	m.fence++
	tok := session.LockToken{Fence: m.fence, Nonce: strconv.FormatUint(rand.Uint64(), 36)}
	e.tok = tok
	e.expires = time.Now().Add(ttl)
	e.pins = 0
	e.lapsed = false
	e.timer = time.AfterFunc(ttl, func() { m.expire(id, tok) })
	return tok
}

// releaseLocked ends e's current grant: the oldest waiter gets the lock, or
// the entry goes.
func (m *Map) releaseLocked(id string, e *entry) {
	e.timer.Stop()
	if len(e.waiters) == 0 {
		delete(m.locks, id)
		return
	}
	w := e.waiters[0]
	e.waiters[0] = nil
	e.waiters = e.waiters[1:]
	w.granted = true
	w.ch <- m.grantLocked(id, e, w.ttl)
}

// expire is the timer callback of the grant tok.
func (m *Map) expire(id string, tok session.LockToken) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.locks[id]
	if e == nil || e.tok != tok || time.Now().Before(e.expires) {
		return // released, or refreshed since the timer was set
	}
	if e.pins > 0 {
		e.lapsed = true
		return
	}
	m.releaseLocked(id, e)
}

// heldLocked returns id's entry if tok holds it and it has not expired.
func (m *Map) heldLocked(id string, tok session.LockToken) *entry {
	e := m.locks[id]
	if e == nil || e.tok != tok || e.lapsed || !time.Now().Before(e.expires) {
		return nil
	}
	return e
}

// Refresh sets the expiry of tok's lock to ttl from now, or returns
// [session.ErrLockLost] if tok does not hold id's lock.
func (m *Map) Refresh(id string, tok session.LockToken, ttl time.Duration) error {
	if ttl <= 0 {
		return ErrBadTTL
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.heldLocked(id, tok)
	if e == nil {
		return fmt.Errorf("lockmap: refresh: %w", session.ErrLockLost)
	}
	e.expires = time.Now().Add(ttl)
	e.timer.Reset(ttl)
	return nil
}

// Unlock releases tok's lock and hands it to the oldest waiter. Any token but
// the holder's gets [session.ErrLockLost] and changes nothing. A lock past
// its expiry whose timer has not run yet is still released by its holder.
func (m *Map) Unlock(id string, tok session.LockToken) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.locks[id]
	if e == nil || e.tok != tok {
		return fmt.Errorf("lockmap: unlock: %w", session.ErrLockLost)
	}
	m.releaseLocked(id, e)
	return nil
}

// Pin checks that tok holds id's lock and keeps the lock from expiring until
// the returned function is called: a store pins around a change so that the
// holder check and the change are atomic. If the TTL passes while pinned,
// the lock is released at unpin. It returns [session.ErrLockLost] if tok is
// not the holder.
func (m *Map) Pin(id string, tok session.LockToken) (unpin func(), err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.heldLocked(id, tok)
	if e == nil {
		return nil, session.ErrLockLost
	}
	e.pins++
	return func() { m.unpin(id, e, tok) }, nil
}

func (m *Map) unpin(id string, e *entry, tok session.LockToken) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locks[id] != e || e.tok != tok {
		return // released meanwhile
	}
	e.pins--
	if e.pins == 0 && (e.lapsed || !time.Now().Before(e.expires)) {
		m.releaseLocked(id, e)
	}
}

// Len returns the number of locks held, for tests.
func (m *Map) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.locks)
}
