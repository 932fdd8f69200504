// Package boltstore is a [session.Store] in a bbolt file (go.etcd.io/bbolt):
// sessions survive a restart of the process, on one machine.
//
// Locks live in the process's memory, as in package memstore: waiting is
// notified and first come, first served. That is correct because only one
// process can use a bolt file at a time: bbolt.Open takes an exclusive
// flock on the file, so a second process blocks in Open (or fails after
// bbolt.Options.Timeout). Fences stay increasing across restarts: each
// [New] takes the next epoch from the file and fences are epoch<<40 + n.
// For more than one process or machine, use package redisstore.
//
// Each entry is the expiry (8 bytes, Unix nanoseconds, big-endian) followed
// by the data. Expired entries are never returned; they are removed during
// writes, at most once per sweep interval. The store starts no goroutines;
// the caller owns the *bbolt.DB and closes it.
package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/internal/lockmap"
)

const (
	epochShift = 40 // fences are epoch<<40 + n: 2^40 grants per process lifetime
	maxEpoch   = 1<<(64-epochShift) - 1
	sweepBatch = 1000 // entries removed per sweep at most, to bound a write
)

var (
	dataBucket = []byte("data")
	metaBucket = []byte("meta")
)

// Store is a session store in a bbolt file. Create it with [New]; it is
// safe for concurrent use.
type Store struct {
	db         *bbolt.DB
	bucket     []byte
	locks      *lockmap.Map
	sweepEvery time.Duration
	sweepNext  chan time.Time // cap 1: the next sweep time, taken by the writer that sweeps
}

// Option configures a [Store]; pass options to [New], which validates them
// once. A nil Option is an error wrapping [session.ErrInvalidOption].
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	bucket       string
	cleanupEvery time.Duration
}

func defaultOptions() options {
	return options{bucket: "lifeline_sessions", cleanupEvery: time.Minute}
}

// WithBucket sets the name of the top-level bucket that holds the store;
// default "lifeline_sessions". Two stores on one file need two buckets.
func WithBucket(name string) Option { return optionFunc(func(o *options) { o.bucket = name }) }

// WithCleanupInterval sets how often a write also removes expired entries
// (at most 1000 each time), PHP's session garbage collection
// (session.gc_probability, gc_divisor); default one minute. Expired
// entries are never returned in between.
func WithCleanupInterval(d time.Duration) Option {
	return optionFunc(func(o *options) { o.cleanupEvery = d })
}

// New returns a store in db, creating its bucket if needed, and starts a new
// fence epoch (one write transaction). A nil db, a nil option or an
// invalid value returns an error wrapping [session.ErrInvalidOption].
func New(db *bbolt.DB, opts ...Option) (*Store, error) {
	o := defaultOptions()
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("boltstore: option %d is nil: %w", i+1, session.ErrInvalidOption)
		}
		opt.apply(&o)
	}
	switch {
	case db == nil:
		return nil, fmt.Errorf("boltstore: nil *bbolt.DB: %w", session.ErrInvalidOption)
	case o.bucket == "":
		return nil, fmt.Errorf("boltstore: WithBucket(\"\"): empty bucket name: %w", session.ErrInvalidOption)
	case o.cleanupEvery <= 0:
		return nil, fmt.Errorf("boltstore: WithCleanupInterval(%v): must be positive: %w", o.cleanupEvery, session.ErrInvalidOption)
	}
	s := &Store{db: db, bucket: []byte(o.bucket), sweepEvery: o.cleanupEvery, sweepNext: make(chan time.Time, 1)}
	var epoch uint64
	err := db.Update(func(tx *bbolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(s.bucket)
		if err != nil {
			return err
		}
		if _, err := root.CreateBucketIfNotExists(dataBucket); err != nil {
			return err
		}
		meta, err := root.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		epoch, err = meta.NextSequence()
		return err
	})
	if err != nil {
		return nil, wrap("open", err)
	}
	if epoch > maxEpoch {
		return nil, fmt.Errorf("boltstore: fence epochs exhausted (%d)", epoch)
	}
	s.locks = lockmap.New(epoch << epochShift)
	s.sweepNext <- time.Now().Add(o.cleanupEvery)
	return s, nil
}

// wrap adds context to a bolt error; a closed database is unavailable.
func wrap(op string, err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("boltstore: %s: %w: %w", op, session.ErrStoreUnavailable, err)
	}
	return fmt.Errorf("boltstore: %s: %w", op, err)
}

func ctxErr(op string, ctx context.Context) error {
	if ctx.Err() != nil {
		return fmt.Errorf("boltstore: %s: %w", op, context.Cause(ctx))
	}
	return nil
}

func (s *Store) data(tx *bbolt.Tx) *bbolt.Bucket { return tx.Bucket(s.bucket).Bucket(dataBucket) }

// Load implements [session.Store].
func (s *Store) Load(ctx context.Context, id string) ([]byte, error) {
	if err := ctxErr("load", ctx); err != nil {
		return nil, err
	}
	var out []byte
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := s.data(tx).Get([]byte(id))
		exp, data, err := decode(v)
		if err != nil {
			return err
		}
		if !time.Now().Before(exp) {
			return session.ErrNotFound
		}
		out = append([]byte(nil), data...) // v is only valid inside the transaction
		return nil
	})
	if err != nil {
		return nil, wrap("load", err)
	}
	return out, nil
}

// decode splits an entry; a missing one is ErrNotFound.
func decode(v []byte) (time.Time, []byte, error) {
	if v == nil {
		return time.Time{}, nil, session.ErrNotFound
	}
	if len(v) < 8 {
		return time.Time{}, nil, fmt.Errorf("%w: entry of %d bytes", session.ErrCorrupt, len(v))
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))), v[8:], nil
}

func encode(exp time.Time, data []byte) []byte {
	v := make([]byte, 8+len(data))
	binary.BigEndian.PutUint64(v, uint64(exp.UnixNano()))
	copy(v[8:], data)
	return v
}

// Save implements [session.Store].
func (s *Store) Save(ctx context.Context, id string, tok session.LockToken, data []byte, ttl time.Duration) error {
	return s.change(ctx, "save", id, tok, func(b *bbolt.Bucket, now time.Time) error {
		return b.Put([]byte(id), encode(now.Add(ttl), data))
	})
}

// Touch implements [session.Store].
func (s *Store) Touch(ctx context.Context, id string, tok session.LockToken, ttl time.Duration) error {
	return s.change(ctx, "touch", id, tok, func(b *bbolt.Bucket, now time.Time) error {
		exp, data, err := decode(b.Get([]byte(id)))
		if err != nil {
			return err
		}
		if !now.Before(exp) {
			return session.ErrNotFound
		}
		return b.Put([]byte(id), encode(now.Add(ttl), data))
	})
}

// Delete implements [session.Store].
func (s *Store) Delete(ctx context.Context, id string, tok session.LockToken) error {
	return s.change(ctx, "delete", id, tok, func(b *bbolt.Bucket, _ time.Time) error {
		return b.Delete([]byte(id))
	})
}

// change runs fn in a write transaction while tok's lock is pinned, and
// sweeps expired entries when one is due.
func (s *Store) change(ctx context.Context, op, id string, tok session.LockToken, fn func(*bbolt.Bucket, time.Time) error) error {
	if err := ctxErr(op, ctx); err != nil {
		return err
	}
	unpin, err := s.locks.Pin(id, tok)
	if err != nil {
		return fmt.Errorf("boltstore: %s: %w", op, err)
	}
	defer unpin()
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b := s.data(tx)
		now := time.Now()
		if err := fn(b, now); err != nil {
			return err
		}
		return s.maybeSweep(b, now)
	})
	if err != nil {
		return wrap(op, err)
	}
	return nil
}

// maybeSweep removes expired entries if a sweep is due. Update transactions
// are serialised by bbolt, so only the next-sweep time needs guarding.
func (s *Store) maybeSweep(b *bbolt.Bucket, now time.Time) error {
	next := <-s.sweepNext
	if now.Before(next) {
		s.sweepNext <- next
		return nil
	}
	s.sweepNext <- now.Add(s.sweepEvery)
	var expired [][]byte
	c := b.Cursor()
	for k, v := c.First(); k != nil && len(expired) < sweepBatch; k, v = c.Next() {
		if exp, _, err := decode(v); err != nil || !now.Before(exp) {
			expired = append(expired, k)
		}
	}
	for _, k := range expired {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Lock implements [session.Store]; waiters are woken in arrival order.
func (s *Store) Lock(ctx context.Context, id string, ttl time.Duration) (session.LockToken, error) {
	tok, err := s.locks.Lock(ctx, id, ttl)
	if err != nil {
		return tok, fmt.Errorf("boltstore: %w", err)
	}
	return tok, nil
}

// Refresh implements [session.Store].
func (s *Store) Refresh(ctx context.Context, id string, tok session.LockToken, ttl time.Duration) error {
	if err := ctxErr("refresh", ctx); err != nil {
		return err
	}
	if err := s.locks.Refresh(id, tok, ttl); err != nil {
		return fmt.Errorf("boltstore: %w", err)
	}
	return nil
}

// Unlock implements [session.Store]. It releases the lock even when ctx is
// done.
func (s *Store) Unlock(_ context.Context, id string, tok session.LockToken) error {
	if err := s.locks.Unlock(id, tok); err != nil {
		return fmt.Errorf("boltstore: %w", err)
	}
	return nil
}

var _ session.Store = (*Store)(nil)
