// Package memstore is an in-process [session.Store]: sessions and their locks
// live in this process's memory and vanish with it. It is the store for
// tests and for single-process servers that can lose their sessions on
// restart.
//
// Waiting for a lock is notified, not polled: the holder's release hands the
// lock to the oldest waiter directly. Data is copied in and out, so callers
// never share a slice with the store, and there is no background goroutine:
// expired entries are swept during writes, at most once per sweep interval
// (scs's memstore starts a cleanup goroutine whose stop channel is written
// and read without synchronisation; this one has nothing to stop).
package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/internal/lockmap"
)

// Store is an in-memory session store. Create it with [New]; it is safe for
// concurrent use.
type Store struct {
	locks      *lockmap.Map
	sweepEvery time.Duration

	mu        sync.RWMutex    // guards items and lastSweep
	items     map[string]item // session data by id
	lastSweep time.Time
}

type item struct {
	data    []byte
	expires time.Time
}

// Option configures a [Store]; pass options to [New], which validates them
// once. A nil Option is an error wrapping [session.ErrInvalidOption].
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	cleanupEvery time.Duration
}

func defaultOptions() options { return options{cleanupEvery: time.Minute} }

// WithCleanupInterval sets how often a write also removes expired entries,
// PHP's session garbage collection (session.gc_probability,
// gc_divisor); default one minute. Expired entries are never returned in
// between.
func WithCleanupInterval(d time.Duration) Option {
	return optionFunc(func(o *options) { o.cleanupEvery = d })
}

// New returns an empty store. A nil option or an invalid value returns an
// error wrapping [session.ErrInvalidOption].
func New(opts ...Option) (*Store, error) {
	o := defaultOptions()
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("memstore: option %d is nil: %w", i+1, session.ErrInvalidOption)
		}
		opt.apply(&o)
	}
	if o.cleanupEvery <= 0 {
		return nil, fmt.Errorf("memstore: WithCleanupInterval(%v): must be positive: %w", o.cleanupEvery, session.ErrInvalidOption)
	}
	return &Store{
		locks:      lockmap.New(0),
		sweepEvery: o.cleanupEvery,
		items:      make(map[string]item),
		lastSweep:  time.Now(),
	}, nil
}

func ctxErr(op string, ctx context.Context) error {
	if ctx.Err() != nil {
		return fmt.Errorf("memstore: %s: %w", op, context.Cause(ctx))
	}
	return nil
}

// Load implements [session.Store].
func (s *Store) Load(ctx context.Context, id string) ([]byte, error) {
	if err := ctxErr("load", ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	it, ok := s.items[id]
	s.mu.RUnlock()
	if !ok || !time.Now().Before(it.expires) {
		return nil, fmt.Errorf("memstore: load: %w", session.ErrNotFound)
	}
	return append([]byte(nil), it.data...), nil
}

// Save implements [session.Store].
func (s *Store) Save(ctx context.Context, id string, tok session.LockToken, data []byte, ttl time.Duration) error {
	return s.change(ctx, "save", id, tok, func(now time.Time) error {
		s.items[id] = item{data: append([]byte(nil), data...), expires: now.Add(ttl)}
		if now.Sub(s.lastSweep) >= s.sweepEvery {
			s.sweepLocked(now)
		}
		return nil
	})
}

// Touch implements [session.Store].
func (s *Store) Touch(ctx context.Context, id string, tok session.LockToken, ttl time.Duration) error {
	return s.change(ctx, "touch", id, tok, func(now time.Time) error {
		it, ok := s.items[id]
		if !ok || !now.Before(it.expires) {
			return session.ErrNotFound
		}
		it.expires = now.Add(ttl)
		s.items[id] = it
		return nil
	})
}

// Delete implements [session.Store].
func (s *Store) Delete(ctx context.Context, id string, tok session.LockToken) error {
	return s.change(ctx, "delete", id, tok, func(time.Time) error {
		delete(s.items, id)
		return nil
	})
}

// change runs fn under the data lock while tok's lock is pinned.
func (s *Store) change(ctx context.Context, op, id string, tok session.LockToken, fn func(now time.Time) error) error {
	if err := ctxErr(op, ctx); err != nil {
		return err
	}
	unpin, err := s.locks.Pin(id, tok)
	if err != nil {
		return fmt.Errorf("memstore: %s: %w", op, err)
	}
	defer unpin()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := fn(time.Now()); err != nil {
		return fmt.Errorf("memstore: %s: %w", op, err)
	}
	return nil
}

func (s *Store) sweepLocked(now time.Time) {
	for id, it := range s.items {
		if !now.Before(it.expires) {
			delete(s.items, id)
		}
	}
	s.lastSweep = now
}

// Lock implements [session.Store]; waiters are woken in arrival order.
func (s *Store) Lock(ctx context.Context, id string, ttl time.Duration) (session.LockToken, error) {
	tok, err := s.locks.Lock(ctx, id, ttl)
	if err != nil {
		return tok, fmt.Errorf("memstore: %w", err)
	}
	return tok, nil
}

// Refresh implements [session.Store].
func (s *Store) Refresh(ctx context.Context, id string, tok session.LockToken, ttl time.Duration) error {
	if err := ctxErr("refresh", ctx); err != nil {
		return err
	}
	if err := s.locks.Refresh(id, tok, ttl); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	return nil
}

// Unlock implements [session.Store]. It releases the lock even when ctx is
// done: releasing is never worth refusing.
func (s *Store) Unlock(_ context.Context, id string, tok session.LockToken) error {
	if err := s.locks.Unlock(id, tok); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	return nil
}

// Len returns the number of entries, expired or not, for tests and metrics.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.items)
}

var _ session.Store = (*Store)(nil)
