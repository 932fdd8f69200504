package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/redisstore"
)

// sessionStore keeps the sessions of /demo/session in the server's
// database (the sessions table) when -redis is not given, so that they
// live with the orders and, on PostgreSQL, are shared by every instance
// with their locks. It
// implements session.Store; sessiontest.Run checks it. A lock is a row's
// (fence, nonce, lock_expires); a waiter polls, as the Redis store does.
type sessionStore struct {
	db *database
}

// lockPoll bounds the pause between two attempts to take a held lock.
const lockPoll = 25 * time.Millisecond

// storeError wraps a database error as session.ErrStoreUnavailable.
func storeError(op, id string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("session store: %s %s: %w", op, id, err)
	}
	return fmt.Errorf("session store: %s %s: %w: %w", op, id, session.ErrStoreUnavailable, err)
}

// Load returns the data saved under id, or session.ErrNotFound.
func (s *sessionStore) Load(ctx context.Context, id string) ([]byte, error) {
	var data []byte
	err := s.db.QueryRowContext(ctx, s.db.q(`SELECT data FROM sessions WHERE id = $1 AND data IS NOT NULL AND data_expires > $2`),
		id, time.Now().UnixNano()).Scan(&data)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, session.ErrNotFound
	case err != nil:
		return nil, storeError("load", id, ctxCause(ctx, err))
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// Save stores data under id for ttl, if lock holds id's lock.
func (s *sessionStore) Save(ctx context.Context, id string, lock session.LockToken, data []byte, ttl time.Duration) error {
	if data == nil {
		data = []byte{}
	}
	now := time.Now()
	return s.changeLocked(ctx, "save", id, lock, `UPDATE sessions SET data = $4, data_expires = $5
		WHERE id = $1 AND fence = $2 AND nonce = $3 AND lock_expires > $6`, data, now.Add(ttl).UnixNano(), now.UnixNano())
}

// Touch moves the expiry of id's data to ttl from now, if lock holds id's
// lock; session.ErrNotFound when there is no data.
func (s *sessionStore) Touch(ctx context.Context, id string, lock session.LockToken, ttl time.Duration) error {
	now := time.Now()
	err := s.changeLocked(ctx, "touch", id, lock, `UPDATE sessions SET data_expires = $4
		WHERE id = $1 AND fence = $2 AND nonce = $3 AND lock_expires > $5 AND data IS NOT NULL AND data_expires > $5`,
		now.Add(ttl).UnixNano(), now.UnixNano())
	if errors.Is(err, session.ErrLockLost) && s.holds(ctx, id, lock, now) {
		return session.ErrNotFound
	}
	return err
}

// Delete removes id's data, if lock holds id's lock.
func (s *sessionStore) Delete(ctx context.Context, id string, lock session.LockToken) error {
	return s.changeLocked(ctx, "delete", id, lock, `UPDATE sessions SET data = NULL, data_expires = 0
		WHERE id = $1 AND fence = $2 AND nonce = $3 AND lock_expires > $4`, time.Now().UnixNano())
}

// Refresh sets the expiry of lock to ttl from now.
func (s *sessionStore) Refresh(ctx context.Context, id string, lock session.LockToken, ttl time.Duration) error {
	now := time.Now()
	return s.changeLocked(ctx, "refresh", id, lock, `UPDATE sessions SET lock_expires = $4
		WHERE id = $1 AND fence = $2 AND nonce = $3 AND lock_expires > $5`, now.Add(ttl).UnixNano(), now.UnixNano())
}

// Unlock releases lock. A release is never worth refusing to the holder,
// so it runs even when ctx is done.
func (s *sessionStore) Unlock(ctx context.Context, id string, lock session.LockToken) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return s.changeLocked(ctx, "unlock", id, lock, `UPDATE sessions SET lock_expires = 0, nonce = ''
		WHERE id = $1 AND fence = $2 AND nonce = $3 AND lock_expires > $4`, time.Now().UnixNano())
}

// changeLocked runs stmt, whose first three parameters are id and lock's
// fence and nonce, and returns session.ErrLockLost when it changed no row.
func (s *sessionStore) changeLocked(ctx context.Context, op, id string, lock session.LockToken, stmt string, args ...any) error {
	res, err := s.db.ExecContext(ctx, s.db.q(stmt), append([]any{id, int64(lock.Fence), lock.Nonce}, args...)...)
	if err != nil {
		return storeError(op, id, ctxCause(ctx, err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return storeError(op, id, err)
	}
	if n == 0 {
		return fmt.Errorf("session store: %s %s: %w", op, id, session.ErrLockLost)
	}
	return nil
}

// holds reports whether lock is id's live lock.
func (s *sessionStore) holds(ctx context.Context, id string, lock session.LockToken, now time.Time) bool {
	var n int
	err := s.db.QueryRowContext(ctx, s.db.q(`SELECT count(*) FROM sessions WHERE id = $1 AND fence = $2 AND nonce = $3 AND lock_expires > $4`),
		id, int64(lock.Fence), lock.Nonce, now.UnixNano()).Scan(&n)
	return err == nil && n > 0
}

// Lock waits until it holds id's lock, for ttl, or ctx is done. Each grant
// takes the next fence of the row, which is kept with the session's data.
func (s *sessionStore) Lock(ctx context.Context, id string, ttl time.Duration) (session.LockToken, error) {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	nonce := hex.EncodeToString(b[:])
	pause := time.Millisecond
	for {
		tok, ok, err := s.tryLock(ctx, id, nonce, ttl)
		if err != nil || ok {
			return tok, err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return session.LockToken{}, fmt.Errorf("session store: lock %s: %w", id, context.Cause(ctx))
		case <-t.C:
		}
		pause = min(2*pause, lockPoll)
	}
}

// tryLock takes id's lock if it is free or expired.
func (s *sessionStore) tryLock(ctx context.Context, id, nonce string, ttl time.Duration) (session.LockToken, bool, error) {
	var fence int64
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.db.q(`INSERT INTO sessions (id) VALUES ($1) ON CONFLICT (id) DO NOTHING`), id); err != nil {
			return err
		}
		now := time.Now()
		return tx.QueryRowContext(ctx, s.db.q(`UPDATE sessions SET fence = fence + 1, nonce = $2, lock_expires = $3
			WHERE id = $1 AND lock_expires <= $4 RETURNING fence`), id, nonce, now.Add(ttl).UnixNano(), now.UnixNano()).Scan(&fence)
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return session.LockToken{}, false, nil
	case err != nil:
		return session.LockToken{}, false, storeError("lock", id, ctxCause(ctx, err))
	}
	return session.LockToken{Fence: uint64(fence), Nonce: nonce}, true, nil
}

// prune deletes the sessions whose data and lock have both expired.
func (s *sessionStore) prune(ctx context.Context) error {
	now := time.Now().UnixNano()
	_, err := s.db.ExecContext(ctx, s.db.q(`DELETE FROM sessions WHERE data_expires < $1 AND lock_expires < $1`), now)
	if err != nil {
		return fmt.Errorf("prune sessions: %w", err)
	}
	return nil
}

// ctxCause returns ctx's cause when ctx is done (the error of a statement
// it interrupted says less), else err.
func ctxCause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", context.Cause(ctx), err)
	}
	return err
}

// redisEnv is the environment variable read for the Redis URL when -redis
// is not given.
const redisEnv = "LIFELINE_REDIS_URL"

// redisURLForm is the form of a Redis URL, for the errors that reject one.
const redisURLForm = "redis://[user:password@]host:port[/db], rediss:// for TLS, or unix:///path/redis.sock"

// parseRedisURL checks the Redis URL of -redis and returns the client's
// options and the URL without its password, for logs and errors. Its
// errors never show the password: when the URL cannot be parsed at all,
// or its password may have spilled out of its user info, they do not show
// the URL.
func parseRedisURL(raw string) (*redis.Options, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("-redis: not a valid URL (not shown: it may hold a password); want %s", redisURLForm)
	}
	if u.User == nil && u.Host != "" && strings.Contains(raw, "@") {
		// redis://:2468/pw@host: a '/', '?' or '#' in the password ended
		// the authority at ":2468"; the rest of the password is the path,
		// query or fragment, which the redacted URL shows and go-redis's
		// errors quote (a database number, an option, a socket's path).
		return nil, "", fmt.Errorf("-redis: an '@' after the host (not shown: it may hold a password): a password with '/', '?' or '#' must be percent-encoded (%%2F, %%3F, %%23); want %s", redisURLForm)
	}
	where := u.Redacted()
	switch u.Scheme {
	case "redis", "rediss", "unix":
	default:
		return nil, "", fmt.Errorf("-redis %s: scheme %q; want %s", where, u.Scheme, redisURLForm)
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		return nil, "", fmt.Errorf("-redis %s: %w", where, err)
	}
	return opts, where, nil
}

// redisSessions keeps the sessions of /demo/session in Redis
// (session/redisstore): every instance given the same Redis shares the
// sessions and their locks, which expire by their TTL when the instance
// that holds one dies, and are fenced, so that a holder that stalled past
// its TTL can no longer write.
type redisSessions struct {
	client *redis.Client
	store  *redisstore.Store
	where  string // the URL without its password
}

// redisPingTimeout bounds the check at start that Redis answers.
const redisPingTimeout = 5 * time.Second

// openRedisSessions connects to the Redis at rawURL and checks that it
// answers, so that a wrong address or password stops the server at start
// instead of failing the first session.
func openRedisSessions(ctx context.Context, rawURL string) (*redisSessions, error) {
	opts, where, err := parseRedisURL(rawURL)
	if err != nil {
		return nil, err
	}
	client := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, redisPingTimeout)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("-redis %s: %w", where, err)
	}
	store, err := redisstore.New(client)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("-redis %s: %w", where, err)
	}
	return &redisSessions{client: client, store: store, where: where}, nil
}

// close ends the store's subscription and closes the client.
func (r *redisSessions) close() error {
	if err := errors.Join(r.store.Close(), r.client.Close()); err != nil {
		return fmt.Errorf("close %s: %w", r.where, err)
	}
	return nil
}

// openSessions creates the session manager of /demo/session: on the Redis
// of -redis when it is given, else on the server's database.
func (a *app) openSessions(ctx context.Context) error {
	var store session.Store
	if a.cfg.redisURL != "" {
		rs, err := openRedisSessions(ctx, a.cfg.redisURL)
		if err != nil {
			return err
		}
		a.redisSess, store = rs, rs.store
	} else {
		a.sessStore = &sessionStore{db: a.db}
		store = a.sessStore
	}
	// WithLockWait(0): wait for a session's lock as PHP does, as long as
	// the run's time limit allows.
	var err error
	a.sessions, err = session.New(store, session.WithLockWait(0), session.WithLockTTL(a.cfg.lockTTL),
		session.WithLogger(a.log))
	return err
}

// sessionsWhere says where the sessions are kept, for the log: the Redis
// URL without its password, or "database".
func (a *app) sessionsWhere() string {
	if a.redisSess != nil {
		return a.redisSess.where
	}
	return "database"
}

// pruneSessions deletes the expired sessions of the SQL store; Redis
// expires its keys by itself.
func (a *app) pruneSessions(ctx context.Context) error {
	if a.sessStore == nil {
		return nil
	}
	return a.sessStore.prune(ctx)
}

// closeSessions closes the Redis client, if any.
func (a *app) closeSessions() error {
	if a.redisSess == nil {
		return nil
	}
	return a.redisSess.close()
}
