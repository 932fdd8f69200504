// Package boltstore is an [idempotency.Store] in a bbolt file
// (go.etcd.io/bbolt): keys survive a restart of the process.
//
// bbolt serialises write transactions, so Reserve is atomic; a bbolt file
// is opened by one process at a time, so the keys are shared by the
// handlers of one process only (use redisstore across processes). Every
// Reserve, Renew, Complete and Release is one write transaction, synced to disk
// unless the DB was opened with NoSync.
//
// Entries live in one bucket, with an index bucket ordered by expiry time;
// each Reserve deletes up to 64 expired entries from the front of the
// index, so the file does not grow without bound and no goroutine is
// needed.
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/lifeline-go/lifeline/idempotency"
)

// sweepBatch bounds the expired entries one Reserve deletes.
const sweepBatch = 64

// Store is an [idempotency.Store] in a bbolt file. It is safe for
// concurrent use. It does not own the DB: close the DB after the last
// request that uses the Store.
type Store struct {
	db     *bbolt.DB
	bucket []byte // entries by key
	index  []byte // expiry (8 bytes, big-endian Unix nanoseconds) + key → nothing
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
	bucket string
}

func defaultOptions() options {
	return options{bucket: "idempotency"}
}

// WithBucket sets the name of the bucket that holds the entries; the index
// bucket is named after it with the suffix ".expiry". The default is
// "idempotency".
func WithBucket(name string) Option {
	return optionFunc(func(o *options) { o.bucket = name })
}

// New returns a Store that keeps its entries in db, creating its buckets if
// needed. It returns an error matching [idempotency.ErrInvalidOption] for a
// nil db, a nil option or an empty bucket name, and the error of bbolt if
// the buckets cannot be created.
func New(db *bbolt.DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, fmt.Errorf("boltstore: nil DB: %w", idempotency.ErrInvalidOption)
	}
	o := defaultOptions()
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("boltstore: opts[%d] is nil: %w", i, idempotency.ErrInvalidOption)
		}
		opt.apply(&o)
	}
	if o.bucket == "" {
		return nil, fmt.Errorf("boltstore: WithBucket(\"\"): %w", idempotency.ErrInvalidOption)
	}
	s := &Store{db: db, bucket: []byte(o.bucket), index: []byte(o.bucket + ".expiry")}
	err := db.Update(func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(s.bucket); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(s.index)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: create buckets: %w", err)
	}
	return s, nil
}

// errLost aborts a transaction whose reservation is not held; it never
// leaves the package unwrapped.
var errLost = errors.New("boltstore: not reserved with this token")

// Reserve implements [idempotency.Store.Reserve].
func (s *Store) Reserve(ctx context.Context, key, fingerprint, token string, lease time.Duration) (idempotency.Reservation, error) {
	if err := ctx.Err(); err != nil {
		return idempotency.Reservation{}, fmt.Errorf("boltstore: reserve: %w", err)
	}
	var res idempotency.Reservation
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, ix := tx.Bucket(s.bucket), tx.Bucket(s.index)
		now := time.Now()
		if err := sweep(b, ix, now); err != nil {
			return err
		}
		k := []byte(key)
		e, err := s.live(b, ix, k, now)
		if err != nil {
			return err
		}
		if e != nil {
			res.State = e.state(fingerprint)
			if res.State == idempotency.StateCompleted {
				res.Record = new(idempotency.Record)
				return res.Record.UnmarshalBinary(e.record)
			}
			return nil
		}
		res.State = idempotency.StateReserved
		return put(b, ix, k, &entry{fingerprint: fingerprint, token: token, expires: now.Add(lease)})
	})
	if err != nil {
		return idempotency.Reservation{}, s.wrap("reserve", key, err)
	}
	return res, nil
}

// Renew implements [idempotency.Store.Renew].
func (s *Store) Renew(ctx context.Context, key, token string, lease time.Duration) error {
	return s.settle(ctx, "renew", key, token, func(b, ix *bbolt.Bucket, k []byte, e *entry, now time.Time) error {
		e.expires = now.Add(lease)
		return put(b, ix, k, e)
	})
}

// Complete implements [idempotency.Store.Complete].
func (s *Store) Complete(ctx context.Context, key, token string, rec *idempotency.Record, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: complete: %w", err)
	}
	data, err := rec.MarshalBinary()
	if err != nil {
		return fmt.Errorf("boltstore: complete %q: %w", key, err)
	}
	return s.settle(ctx, "complete", key, token, func(b, ix *bbolt.Bucket, k []byte, e *entry, now time.Time) error {
		return put(b, ix, k, &entry{completed: true, fingerprint: e.fingerprint, expires: now.Add(ttl), record: data})
	})
}

// Release implements [idempotency.Store.Release].
func (s *Store) Release(ctx context.Context, key, token string) error {
	return s.settle(ctx, "release", key, token, func(b, _ *bbolt.Bucket, k []byte, _ *entry, _ time.Time) error {
		return b.Delete(k)
	})
}

// settle runs fn in a write transaction on the reservation of key made with
// token, once it is out of the expiry index: fn puts the entry back with a
// new expiry, or deletes it. A reservation that expired, completed or
// belongs to another token fails with ErrReservationLost; op names the call
// in errors.
func (s *Store) settle(ctx context.Context, op, key, token string, fn func(b, ix *bbolt.Bucket, k []byte, e *entry, now time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: %s: %w", op, err)
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, ix := tx.Bucket(s.bucket), tx.Bucket(s.index)
		now := time.Now()
		k := []byte(key)
		e, err := s.owned(b, ix, k, token, now)
		if err != nil {
			return err
		}
		if err := ix.Delete(indexKey(e.expires, k)); err != nil {
			return err
		}
		return fn(b, ix, k, e, now)
	})
	return s.wrap(op, key, err)
}

// wrap classifies a transaction's error: a lost reservation, a corrupt
// entry, or the database failing (ErrStoreUnavailable).
func (s *Store) wrap(op, key string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errLost):
		return fmt.Errorf("boltstore: %s %q: %w", op, key, idempotency.ErrReservationLost)
	case errors.Is(err, idempotency.ErrCorruptRecord):
		return fmt.Errorf("boltstore: %s %q: %w", op, key, err)
	}
	return fmt.Errorf("boltstore: %s %q: %w: %w", op, key, idempotency.ErrStoreUnavailable, err)
}

// live returns the unexpired entry of k, or nil.
func (s *Store) live(b *bbolt.Bucket, ix *bbolt.Bucket, k []byte, now time.Time) (*entry, error) {
	v := b.Get(k)
	if v == nil {
		return nil, nil
	}
	e, err := decodeEntry(v)
	if err != nil {
		return nil, err
	}
	if !now.Before(e.expires) {
		if err := ix.Delete(indexKey(e.expires, k)); err != nil {
			return nil, err
		}
		return nil, b.Delete(k)
	}
	return e, nil
}

// owned returns the entry of k if it is a live reservation made with token.
func (s *Store) owned(b *bbolt.Bucket, ix *bbolt.Bucket, k []byte, token string, now time.Time) (*entry, error) {
	e, err := s.live(b, ix, k, now)
	if err != nil {
		return nil, err
	}
	if e == nil || e.completed || e.token != token {
		return nil, errLost
	}
	return e, nil
}

func put(b *bbolt.Bucket, ix *bbolt.Bucket, k []byte, e *entry) error {
	if err := b.Put(k, e.encode()); err != nil {
		return err
	}
	return ix.Put(indexKey(e.expires, k), nil)
}

// sweep deletes up to sweepBatch entries whose expiry has passed, oldest
// first.
func sweep(b *bbolt.Bucket, ix *bbolt.Bucket, now time.Time) error {
	var expired [][]byte
	c := ix.Cursor()
	for ik, _ := c.First(); ik != nil && len(expired) < sweepBatch; ik, _ = c.Next() {
		if len(ik) < 8 || int64(binary.BigEndian.Uint64(ik)) > now.UnixNano() {
			break
		}
		expired = append(expired, bytes.Clone(ik))
	}
	for _, ik := range expired {
		if err := ix.Delete(ik); err != nil {
			return err
		}
		// The index entry is the entry's current one: every rewrite of an
		// entry moves its index entry, so the entry itself is expired too.
		if err := b.Delete(ik[8:]); err != nil {
			return err
		}
	}
	return nil
}

func indexKey(expires time.Time, k []byte) []byte {
	ik := make([]byte, 8, 8+len(k))
	binary.BigEndian.PutUint64(ik, uint64(expires.UnixNano()))
	return append(ik, k...)
}

var _ idempotency.Store = (*Store)(nil)
