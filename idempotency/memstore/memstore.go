// Package memstore is an in-memory [idempotency.Store], for one process.
//
// Keys live in a map guarded by one mutex, so Reserve is atomic within the
// process; they are lost when the process exits, and two processes (two
// replicas behind a load balancer) do not see each other's keys: use
// redisstore there. Expired entries are removed by a sweep that Reserve
// runs at most once per cleanup interval; no goroutine is started.
package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/lifeline-go/lifeline/idempotency"
)

// Store is an in-memory [idempotency.Store]. It is safe for concurrent use.
// Records passed to Complete are kept as they are and returned to every
// replay, read-only, as the Store contract allows.
type Store struct {
	cleanupInterval time.Duration

	mu        sync.Mutex // guards entries and lastSweep
	entries   map[string]*entry
	lastSweep time.Time
}

type entry struct {
	fingerprint string
	token       string // "" once completed
	record      *idempotency.Record
	expires     time.Time
}

// Option configures a [Store]. Options are made by the With functions of
// this package and checked once, by [New].
type Option interface {
	apply(*options)
}

// optionFunc is the Option of the With functions.
type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	cleanupInterval time.Duration
}

func defaultOptions() options {
	return options{cleanupInterval: time.Minute}
}

// WithCleanupInterval sets how often, at most, Reserve sweeps expired keys
// out of memory. Expired keys are never visible, swept or not; the sweep
// only bounds memory, at the cost of one pass over the map. The default is
// one minute.
func WithCleanupInterval(d time.Duration) Option {
	return optionFunc(func(o *options) { o.cleanupInterval = d })
}

// New returns an empty Store. It returns an error matching
// [idempotency.ErrInvalidOption] if an option is nil or its value cannot be
// used.
func New(opts ...Option) (*Store, error) {
	o := defaultOptions()
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("memstore: opts[%d] is nil: %w", i, idempotency.ErrInvalidOption)
		}
		opt.apply(&o)
	}
	if o.cleanupInterval <= 0 {
		return nil, fmt.Errorf("memstore: WithCleanupInterval(%v): must be positive: %w", o.cleanupInterval, idempotency.ErrInvalidOption)
	}
	return &Store{
		cleanupInterval: o.cleanupInterval,
		entries:         make(map[string]*entry),
		lastSweep:       time.Now(),
	}, nil
}

// Reserve implements [idempotency.Store.Reserve].
func (s *Store) Reserve(ctx context.Context, key, fingerprint, token string, lease time.Duration) (idempotency.Reservation, error) {
	if err := ctx.Err(); err != nil {
		return idempotency.Reservation{}, fmt.Errorf("memstore: reserve: %w", err)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.lastSweep) >= s.cleanupInterval {
		s.sweepLocked(now)
	}
	e := s.liveLocked(key, now)
	switch {
	case e == nil:
		s.entries[key] = &entry{fingerprint: fingerprint, token: token, expires: now.Add(lease)}
		return idempotency.Reservation{State: idempotency.StateReserved}, nil
	case e.fingerprint != fingerprint:
		return idempotency.Reservation{State: idempotency.StateMismatch}, nil
	case e.record == nil:
		return idempotency.Reservation{State: idempotency.StateInProgress}, nil
	}
	return idempotency.Reservation{State: idempotency.StateCompleted, Record: e.record}, nil
}

// Renew implements [idempotency.Store.Renew].
func (s *Store) Renew(ctx context.Context, key, token string, lease time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: renew: %w", err)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.liveLocked(key, now)
	if e == nil || e.record != nil || e.token != token {
		return fmt.Errorf("memstore: renew %q: %w", key, idempotency.ErrReservationLost)
	}
	e.expires = now.Add(lease)
	return nil
}

// Complete implements [idempotency.Store.Complete].
func (s *Store) Complete(ctx context.Context, key, token string, rec *idempotency.Record, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: complete: %w", err)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.liveLocked(key, now)
	if e == nil || e.record != nil || e.token != token {
		return fmt.Errorf("memstore: complete %q: %w", key, idempotency.ErrReservationLost)
	}
	e.token, e.record, e.expires = "", rec, now.Add(ttl)
	return nil
}

// Release implements [idempotency.Store.Release].
func (s *Store) Release(ctx context.Context, key, token string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: release: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.liveLocked(key, time.Now())
	if e == nil || e.record != nil || e.token != token {
		return fmt.Errorf("memstore: release %q: %w", key, idempotency.ErrReservationLost)
	}
	delete(s.entries, key)
	return nil
}

// Len returns the number of entries held in memory, expired ones not yet
// swept included.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// liveLocked returns the entry of key unless it is missing or expired.
func (s *Store) liveLocked(key string, now time.Time) *entry {
	e := s.entries[key]
	if e == nil || !now.Before(e.expires) {
		return nil
	}
	return e
}

func (s *Store) sweepLocked(now time.Time) {
	for k, e := range s.entries {
		if !now.Before(e.expires) {
			delete(s.entries, k)
		}
	}
	s.lastSweep = now
}

var _ idempotency.Store = (*Store)(nil)
