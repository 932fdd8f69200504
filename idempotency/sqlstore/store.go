package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/lifeline-go/lifeline/idempotency"
)

// Store is an [idempotency.Store] in a SQL table. It is safe for
// concurrent use, by any number of processes that share the database. It
// does not own the *sql.DB: close it after the last request that uses the
// Store.
type Store struct {
	db      *sql.DB
	dialect Dialect
	q       queries
	cleanup time.Duration

	lastSweep atomic.Int64 // Unix nanoseconds of the last cleanup
}

// New returns a Store that keeps its keys in db, which speaks dialect, and
// creates its table if it does not exist (on PostgreSQL under an advisory
// lock, so that instances starting together do not collide). It returns an
// error matching [idempotency.ErrInvalidOption] for a nil db, an unknown
// dialect, a nil option or an option value it cannot use, and the
// database's error, wrapped, if the table cannot be created.
func New(ctx context.Context, db *sql.DB, dialect Dialect, opts ...Option) (*Store, error) {
	switch {
	case db == nil:
		return nil, fmt.Errorf("sqlstore: nil *sql.DB: %w", idempotency.ErrInvalidOption)
	case dialect != SQLite && dialect != Postgres:
		return nil, fmt.Errorf("sqlstore: unknown %v: %w", dialect, idempotency.ErrInvalidOption)
	}
	o := defaultOptions()
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("sqlstore: opts[%d] is nil: %w", i, idempotency.ErrInvalidOption)
		}
		opt.apply(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	s := &Store{db: db, dialect: dialect, q: newQueries(dialect, o.table), cleanup: o.cleanupInterval}
	s.lastSweep.Store(time.Now().UnixNano())
	if err := s.createTable(ctx, o.table); err != nil {
		return nil, wrap(ctx, "create table", o.table, err)
	}
	return s, nil
}

func (s *Store) createTable(ctx context.Context, table string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.dialect == Postgres {
		// CREATE TABLE IF NOT EXISTS is not safe against itself on
		// PostgreSQL: two sessions may both try and one fails on the
		// catalog's unique index.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "lifeline-sqlstore:"+table); err != nil {
			return err
		}
	}
	for _, stmt := range s.q.schema {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Reserve implements [idempotency.Store.Reserve]: one statement claims a
// free or expired key; a second reads a live entry.
func (s *Store) Reserve(ctx context.Context, key, fingerprint, token string, lease time.Duration) (idempotency.Reservation, error) {
	if err := ctx.Err(); err != nil {
		return idempotency.Reservation{}, fmt.Errorf("sqlstore: reserve: %w", err)
	}
	s.maybeSweep(ctx)
	k := []byte(key)
	// The entry seen by lookup can run out or be released between the
	// two statements; then the key is free, and the next round takes it.
	for range 3 {
		var one int
		err := s.db.QueryRowContext(ctx, s.q.reserve, k, fingerprint, token, millis(lease)).Scan(&one)
		switch {
		case err == nil:
			return idempotency.Reservation{State: idempotency.StateReserved}, nil
		case !errors.Is(err, sql.ErrNoRows):
			return idempotency.Reservation{}, wrap(ctx, "reserve", key, err)
		}
		var (
			fp   string
			data []byte
			left int64
		)
		err = s.db.QueryRowContext(ctx, s.q.lookup, k).Scan(&fp, &data, &left)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue
		case err != nil:
			return idempotency.Reservation{}, wrap(ctx, "reserve", key, err)
		case left <= 0:
			continue
		case fp != fingerprint:
			return idempotency.Reservation{State: idempotency.StateMismatch}, nil
		case data == nil:
			return idempotency.Reservation{State: idempotency.StateInProgress}, nil
		}
		rec := new(idempotency.Record)
		if err := rec.UnmarshalBinary(data); err != nil {
			return idempotency.Reservation{}, fmt.Errorf("sqlstore: reserve %q: %w", key, err)
		}
		return idempotency.Reservation{State: idempotency.StateCompleted, Record: rec}, nil
	}
	return idempotency.Reservation{}, fmt.Errorf("sqlstore: reserve %q: the entry changed under three attempts: %w", key, idempotency.ErrStoreUnavailable)
}

// Renew implements [idempotency.Store.Renew].
func (s *Store) Renew(ctx context.Context, key, token string, lease time.Duration) error {
	return s.owned(ctx, s.db, "renew", key, s.q.renew, []byte(key), token, millis(lease))
}

// Complete implements [idempotency.Store.Complete].
func (s *Store) Complete(ctx context.Context, key, token string, rec *idempotency.Record, ttl time.Duration) error {
	data, err := rec.MarshalBinary()
	if err != nil {
		return fmt.Errorf("sqlstore: complete %q: %w", key, err)
	}
	return s.owned(ctx, s.db, "complete", key, s.q.complete, []byte(key), token, data, millis(ttl))
}

// Release implements [idempotency.Store.Release].
func (s *Store) Release(ctx context.Context, key, token string) error {
	return s.owned(ctx, s.db, "release", key, s.q.release, []byte(key), token)
}

// CompleteTx records the answer to the request of ctx in tx, the
// transaction that holds the request's side effects: when tx commits, the
// key is completed with it, and a retry is replayed rec; when tx rolls back
// (or the process dies first), nothing is recorded, the key is released (or
// its lease runs out), and a retry runs again. ctx must carry the
// request's lease ([idempotency.LeaseFromContext]: pass the request's
// context, or one derived from it); without one, the request was not
// protected (it had no key) and CompleteTx does nothing and returns nil.
//
// rec is the answer to replay; nil means the response the handler has
// written so far, the natural order: write the answer, call CompleteTx,
// commit. Under Lifeline, and for small responses under net/http alone
// (its buffer holds the first 4 KB), nothing written reaches the client
// before the handler returns, so a handler whose Commit fails can still
// answer 5xx instead. Writes after CompleteTx are not recorded. The record
// is kept for the key's TTL ([idempotency.WithTTL]). A recorded 5xx is
// replayed like any answer: the side effects committed with it.
//
// Commit before calling lifeline.Run.Finish: at Finish the middleware
// settles the key, releasing it if the answer is not committed by then.
// CompleteTx may be called once per request, from the handler's goroutine.
// It returns an error matching [idempotency.ErrReservationLost] if the key
// is no longer this run's (its lease ran out and another run took it over,
// or the answer was already recorded): roll tx back. Other errors are the
// database's, wrapped; tx is then unusable on PostgreSQL.
func (s *Store) CompleteTx(ctx context.Context, tx *sql.Tx, rec *idempotency.Record) error {
	l, ok := idempotency.LeaseFromContext(ctx)
	if !ok {
		return nil
	}
	if tx == nil {
		return fmt.Errorf("sqlstore: complete %q in a transaction: nil *sql.Tx", l.Key())
	}
	rec, err := l.Seal(rec)
	if err != nil {
		return fmt.Errorf("sqlstore: complete %q in a transaction: %w", l.Key(), err)
	}
	data, err := rec.MarshalBinary()
	if err != nil {
		return fmt.Errorf("sqlstore: complete %q in a transaction: %w", l.Key(), err)
	}
	return s.owned(ctx, tx, "complete in a transaction", l.Key(), s.q.completeTx, []byte(l.Key()), l.Token(), data, millis(l.TTL()))
}

// execer is what *sql.DB and *sql.Tx share.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// owned runs a statement that acts only on key's reservation with its
// token: no row changed means the reservation is lost.
func (s *Store) owned(ctx context.Context, db execer, op, key, query string, args ...any) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	res, err := db.ExecContext(ctx, query, args...)
	if err != nil {
		return wrap(ctx, op, key, err)
	}
	n, err := res.RowsAffected()
	switch {
	case err != nil:
		return wrap(ctx, op, key, err)
	case n != 1:
		return fmt.Errorf("sqlstore: %s %q: %w", op, key, idempotency.ErrReservationLost)
	}
	return nil
}

// maybeSweep deletes expired rows if the cleanup interval has passed; one
// caller at a time does it, and its failure is left to the next one.
func (s *Store) maybeSweep(ctx context.Context) {
	last := s.lastSweep.Load()
	now := time.Now().UnixNano()
	if time.Duration(now-last) < s.cleanup || !s.lastSweep.CompareAndSwap(last, now) {
		return
	}
	_, _ = s.db.ExecContext(ctx, s.q.sweep)
}

// millis converts a duration to whole milliseconds, at least 1.
func millis(d time.Duration) int64 {
	return max(1, int64((d+time.Millisecond-1)/time.Millisecond))
}

var _ idempotency.Store = (*Store)(nil)
