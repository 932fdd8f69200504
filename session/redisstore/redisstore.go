// Package redisstore is a [session.Store] in Redis
// (github.com/redis/go-redis/v9): the store for more than one process or
// machine.
//
// Each session has two keys with the hash tag {id} (one cluster slot):
// "<prefix>{id}", a hash holding the data and the fence counter, with the
// session's expiry, and "<prefix>{id}:lock", the lock.
//
// Locking follows the single-instance Redis lock pattern: the lock is taken
// with SET NX PX and a value "fence:nonce" (the fence from HINCRBY on the
// session's hash, the nonce 128 random bits); it expires on its own if the
// holder dies; it is refreshed by its holder (the [session.Manager] calls
// Refresh while it holds a session); and it is released or refreshed only
// by a Lua compare-and-delete, so a holder paused past its TTL can neither
// release the next holder's lock nor overwrite its data: Save, Touch and
// Delete run the same comparison in one script.
//
// Waiters are woken by a Pub/Sub message that Unlock publishes (one
// subscription per Store, opened at the first contended Lock, on a channel
// "<prefix>unlock"), and fall back to polling every poll interval and to
// the remaining TTL of a dead holder's lock. Within one process, waiters
// for the same id queue in memory first, so at most one per process polls
// Redis.
//
// When Redis cannot be reached every method returns an error wrapping
// [session.ErrStoreUnavailable] and the network error, never an empty
// session. A Redis without persistence forgets all sessions and locks when
// it restarts: sessions start afresh, fences start again from 1.
package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/internal/lockmap"
)

// Store is a session store in Redis. Create it with [New]; it is safe for
// concurrent use. Call [Store.Close] when done to end its Pub/Sub
// subscription; the Redis client stays the caller's.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	channel string // "" when notifications are off
	poll    time.Duration
	gate    *lockmap.Map // the in-process queue in front of each Redis lock

	mu   sync.Mutex          // guards held
	held map[string]gateHold // id → this process's holder, with its gate token

	notify notifyState
}

// gateHold pairs a Redis lock held by this process with its gate token.
type gateHold struct {
	gate session.LockToken
	tok  session.LockToken
}

// Option configures a [Store]; pass options to [New], which validates them
// once. A nil Option is an error wrapping [session.ErrInvalidOption].
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	prefix string
	poll   time.Duration
	notify bool
}

func defaultOptions() options {
	return options{prefix: "lifeline:session:", poll: 100 * time.Millisecond, notify: true}
}

// WithPrefix sets the prefix of every key and of the channel; default
// "lifeline:session:".
func WithPrefix(p string) Option { return optionFunc(func(o *options) { o.prefix = p }) }

// WithPollInterval sets how often a waiter retries a held lock when no
// release message wakes it; default 100ms. With notifications on, polling
// only covers lost messages (a reconnect); with them off, it is the
// hand-off latency, and a few milliseconds is a better value.
func WithPollInterval(d time.Duration) Option { return optionFunc(func(o *options) { o.poll = d }) }

// WithNotify sets whether Unlock publishes releases and waiters subscribe
// to them; default true. Turn it off where Pub/Sub is unavailable.
func WithNotify(on bool) Option { return optionFunc(func(o *options) { o.notify = on }) }

// New returns a store that keeps sessions in Redis through client. It does
// not contact Redis: an unreachable server shows in the first operation. A
// nil client, a nil option or an invalid value returns an error wrapping
// [session.ErrInvalidOption].
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	o := defaultOptions()
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("redisstore: option %d is nil: %w", i+1, session.ErrInvalidOption)
		}
		opt.apply(&o)
	}
	switch {
	case client == nil:
		return nil, fmt.Errorf("redisstore: nil client: %w", session.ErrInvalidOption)
	case o.poll <= 0:
		return nil, fmt.Errorf("redisstore: WithPollInterval(%v): must be positive: %w", o.poll, session.ErrInvalidOption)
	}
	s := &Store{
		client: client,
		prefix: o.prefix,
		poll:   o.poll,
		gate:   lockmap.New(0),
		held:   make(map[string]gateHold),
	}
	if o.notify {
		s.channel = o.prefix + "unlock"
	}
	return s, nil
}

func (s *Store) keys(id string) []string {
	data := s.prefix + "{" + id + "}"
	return []string{data + ":lock", data}
}

func ms(d time.Duration) int64 { return max(1, d.Milliseconds()) }

// Load implements [session.Store].
func (s *Store) Load(ctx context.Context, id string) ([]byte, error) {
	data, err := s.client.HGet(ctx, s.keys(id)[1], "d").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisstore: load: %w", session.ErrNotFound)
	}
	if err != nil {
		return nil, wrapErr(ctx, "load", err)
	}
	return data, nil
}

// Save implements [session.Store].
func (s *Store) Save(ctx context.Context, id string, tok session.LockToken, data []byte, ttl time.Duration) error {
	n, err := saveScript.Run(ctx, s.client, s.keys(id), tok.String(), data, ms(ttl)).Int()
	return result(ctx, "save", n, err)
}

// Touch implements [session.Store].
func (s *Store) Touch(ctx context.Context, id string, tok session.LockToken, ttl time.Duration) error {
	n, err := touchScript.Run(ctx, s.client, s.keys(id), tok.String(), ms(ttl)).Int()
	if err == nil && n == 0 {
		return fmt.Errorf("redisstore: touch: %w", session.ErrNotFound)
	}
	return result(ctx, "touch", n, err)
}

// Delete implements [session.Store].
func (s *Store) Delete(ctx context.Context, id string, tok session.LockToken) error {
	n, err := deleteScript.Run(ctx, s.client, s.keys(id), tok.String()).Int()
	return result(ctx, "delete", n, err)
}

// result turns a script's reply into an error: positive is success, else
// the token did not hold the lock.
func result(ctx context.Context, op string, n int, err error) error {
	switch {
	case err != nil:
		return wrapErr(ctx, op, err)
	case n <= 0:
		return fmt.Errorf("redisstore: %s: %w", op, session.ErrLockLost)
	}
	return nil
}

// Refresh implements [session.Store].
func (s *Store) Refresh(ctx context.Context, id string, tok session.LockToken, ttl time.Duration) error {
	n, err := refreshScript.Run(ctx, s.client, s.keys(id), tok.String(), ms(ttl)).Int()
	if err := result(ctx, "refresh", n, err); err != nil {
		return err
	}
	if h, ok := s.holder(id, tok); ok {
		_ = s.gate.Refresh(id, h.gate, ttl)
	}
	return nil
}

// Unlock implements [session.Store]: compare-and-delete, then publish the
// release. The process's queue for id moves on even if Redis could not be
// reached (the Redis lock then expires at its TTL).
func (s *Store) Unlock(ctx context.Context, id string, tok session.LockToken) error {
	n, err := unlockScript.Run(ctx, s.client, s.keys(id)[:1], tok.String(), s.channel, id).Int()
	if h, ok := s.holder(id, tok); ok {
		s.mu.Lock()
		delete(s.held, id)
		s.mu.Unlock()
		_ = s.gate.Unlock(id, h.gate)
	}
	return result(ctx, "unlock", n, err)
}

// holder returns the local hold of id if tok is its Redis token.
func (s *Store) holder(id string, tok session.LockToken) (gateHold, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.held[id]
	return h, ok && h.tok == tok
}

// Lock implements [session.Store]. The caller first queues behind the other
// waiters of this process, then takes the Redis lock.
func (s *Store) Lock(ctx context.Context, id string, ttl time.Duration) (session.LockToken, error) {
	gate, err := s.gate.Lock(ctx, id, ttl)
	if err != nil {
		return session.LockToken{}, fmt.Errorf("redisstore: lock: %w", err)
	}
	tok, err := s.acquire(ctx, id, ttl)
	if err != nil {
		_ = s.gate.Unlock(id, gate)
		return session.LockToken{}, err
	}
	s.mu.Lock()
	s.held[id] = gateHold{gate: gate, tok: tok}
	s.mu.Unlock()
	return tok, nil
}

// acquire takes the Redis lock, waiting for release messages or polling.
func (s *Store) acquire(ctx context.Context, id string, ttl time.Duration) (session.LockToken, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	nonce := hex.EncodeToString(b[:])
	keys := s.keys(id)
	var (
		wake  <-chan struct{}
		timer *time.Timer
	)
	defer func() {
		if wake != nil {
			s.unsubscribe(id, wake)
		}
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		res, err := lockScript.Run(ctx, s.client, keys, nonce, ms(ttl)).Int64Slice()
		if err != nil {
			return session.LockToken{}, wrapErr(ctx, "lock", err)
		}
		if len(res) != 2 {
			return session.LockToken{}, fmt.Errorf("redisstore: lock: unexpected reply %v", res)
		}
		if res[0] == 1 {
			return session.LockToken{Fence: uint64(res[1]), Nonce: nonce}, nil
		}
		if wake == nil && s.channel != "" {
			if wake = s.subscribe(ctx, id); wake != nil {
				continue // subscribed: try once more, so no release is missed
			}
		}
		wait := s.poll
		if pttl := time.Duration(res[1]) * time.Millisecond; pttl >= 0 && pttl < wait {
			wait = pttl + time.Millisecond // a dead holder's lock expires sooner
		}
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return session.LockToken{}, fmt.Errorf("redisstore: lock: %w", context.Cause(ctx))
		case <-wake:
		case <-timer.C:
		}
	}
}

// Close ends the store's Pub/Sub subscription and waits for its goroutine.
// Locks taken afterwards wait by polling. The Redis client is not closed.
func (s *Store) Close() error { return s.notify.close() }

var _ session.Store = (*Store)(nil)
