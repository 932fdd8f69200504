// Package redisstore is an [idempotency.Store] in Redis
// (github.com/redis/go-redis/v9), shared by any number of processes.
//
// Each key is one Redis hash with the fields f (fingerprint), t (the token
// of the run that holds the reservation) and r (the recorded response, in
// the form of [idempotency.Record.MarshalBinary]), and a TTL that Redis
// enforces. Reserve, Renew, Complete and Release are each one Lua script, which
// Redis runs atomically: two instances of an application can never both
// reserve one key, and a run whose reservation expired can neither complete
// nor release the key another run holds now.
//
// When Redis cannot be reached (down, timed out, loading, read-only
// replica, out of memory) the errors match [idempotency.ErrStoreUnavailable],
// and the middleware answers 503 without running the handler.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-go/lifeline/idempotency"
)

// reserveLua returns 1 after reserving KEYS[1], or the fields {f, r} of the
// entry that holds it (r false while in progress).
// ARGV: fingerprint, token, TTL in milliseconds.
const reserveLua = `
local v = redis.call('HMGET', KEYS[1], 'f', 'r')
if v[1] then return v end
redis.call('HSET', KEYS[1], 'f', ARGV[1], 't', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`

// completeLua stores the record if KEYS[1] is reserved with the token.
// ARGV: token, record, TTL in milliseconds. Returns 1, or 0 if not held.
const completeLua = `
if redis.call('HGET', KEYS[1], 't') ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], 't')
redis.call('HSET', KEYS[1], 'r', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`

// renewLua sets the TTL of KEYS[1] if it is reserved with the token.
// ARGV: token, lease in milliseconds. Returns 1, or 0 if not held.
const renewLua = `
if redis.call('HGET', KEYS[1], 't') ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`

// releaseLua deletes KEYS[1] if it is reserved with the token.
// ARGV: token. Returns 1, or 0 if not held.
const releaseLua = `
if redis.call('HGET', KEYS[1], 't') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`

// Store is an [idempotency.Store] in Redis. It is safe for concurrent use.
// It does not own the client: close the client after the last request that
// uses the Store.
type Store struct {
	client   redis.Scripter
	prefix   string
	reserve  *redis.Script
	renew    *redis.Script
	complete *redis.Script
	release  *redis.Script
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
	prefix string
}

func defaultOptions() options {
	return options{prefix: "idempotency:"}
}

// WithPrefix sets the prefix of the Redis keys, so that several
// applications can share one Redis database. The default is "idempotency:".
func WithPrefix(prefix string) Option {
	return optionFunc(func(o *options) { o.prefix = prefix })
}

// New returns a Store that keeps its entries in Redis through client: a
// *redis.Client, a *redis.ClusterClient (every script touches one key, so
// it runs on the key's shard), or any other [redis.Scripter]. It does not
// contact Redis. It returns an error matching [idempotency.ErrInvalidOption]
// for a nil client or a nil option.
func New(client redis.Scripter, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, fmt.Errorf("redisstore: nil client: %w", idempotency.ErrInvalidOption)
	}
	o := defaultOptions()
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("redisstore: opts[%d] is nil: %w", i, idempotency.ErrInvalidOption)
		}
		opt.apply(&o)
	}
	return &Store{
		client:   client,
		prefix:   o.prefix,
		reserve:  redis.NewScript(reserveLua),
		renew:    redis.NewScript(renewLua),
		complete: redis.NewScript(completeLua),
		release:  redis.NewScript(releaseLua),
	}, nil
}

// Reserve implements [idempotency.Store.Reserve].
func (s *Store) Reserve(ctx context.Context, key, fingerprint, token string, lease time.Duration) (idempotency.Reservation, error) {
	v, err := s.reserve.Run(ctx, s.client, []string{s.prefix + key}, fingerprint, token, millis(lease)).Result()
	if err != nil {
		return idempotency.Reservation{}, wrap(ctx, "reserve", key, err)
	}
	switch v := v.(type) {
	case int64:
		return idempotency.Reservation{State: idempotency.StateReserved}, nil
	case []any:
		if len(v) == 2 {
			fp, ok := v[0].(string)
			if !ok {
				break
			}
			if fp != fingerprint {
				return idempotency.Reservation{State: idempotency.StateMismatch}, nil
			}
			data, ok := v[1].(string)
			if !ok { // nil (or false): no record yet
				return idempotency.Reservation{State: idempotency.StateInProgress}, nil
			}
			rec := new(idempotency.Record)
			if err := rec.UnmarshalBinary([]byte(data)); err != nil {
				return idempotency.Reservation{}, fmt.Errorf("redisstore: reserve %q: %w", key, err)
			}
			return idempotency.Reservation{State: idempotency.StateCompleted, Record: rec}, nil
		}
	}
	return idempotency.Reservation{}, fmt.Errorf("redisstore: reserve %q: unexpected reply %#v", key, v)
}

// Renew implements [idempotency.Store.Renew].
func (s *Store) Renew(ctx context.Context, key, token string, lease time.Duration) error {
	return s.ownedOp(ctx, s.renew, "renew", key, token, millis(lease))
}

// Complete implements [idempotency.Store.Complete].
func (s *Store) Complete(ctx context.Context, key, token string, rec *idempotency.Record, ttl time.Duration) error {
	data, err := rec.MarshalBinary()
	if err != nil {
		return fmt.Errorf("redisstore: complete %q: %w", key, err)
	}
	return s.ownedOp(ctx, s.complete, "complete", key, token, data, millis(ttl))
}

// Release implements [idempotency.Store.Release].
func (s *Store) Release(ctx context.Context, key, token string) error {
	return s.ownedOp(ctx, s.release, "release", key, token)
}

// ownedOp runs a script that acts only if key is reserved with token.
func (s *Store) ownedOp(ctx context.Context, script *redis.Script, op, key, token string, args ...any) error {
	n, err := script.Run(ctx, s.client, []string{s.prefix + key}, append([]any{token}, args...)...).Int64()
	switch {
	case err != nil:
		return wrap(ctx, op, key, err)
	case n != 1:
		return fmt.Errorf("redisstore: %s %q: %w", op, key, idempotency.ErrReservationLost)
	}
	return nil
}

// millis converts a TTL to whole milliseconds, at least 1 (PEXPIRE's unit;
// 0 would delete the key).
func millis(d time.Duration) int64 {
	return max(1, int64((d+time.Millisecond-1)/time.Millisecond))
}

// wrap classifies a client error: a cancelled request stays what it is; a
// Redis reply error that is not about availability (a bug, a wrong key
// type) is reported as is; everything else (connection refused or reset,
// timeouts, a closed pool, LOADING, READONLY, MASTERDOWN, CLUSTERDOWN,
// TRYAGAIN, OOM, NOREPLICAS, max clients) matches ErrStoreUnavailable.
func wrap(ctx context.Context, op, key string, err error) error {
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return fmt.Errorf("redisstore: %s %q: %w", op, key, err)
	}
	var replyErr redis.Error
	if errors.As(err, &replyErr) && !unavailableReply(err) {
		return fmt.Errorf("redisstore: %s %q: %w", op, key, err)
	}
	return fmt.Errorf("redisstore: %s %q: %w: %w", op, key, idempotency.ErrStoreUnavailable, err)
}

func unavailableReply(err error) bool {
	return redis.IsLoadingError(err) || redis.IsReadOnlyError(err) || redis.IsMasterDownError(err) ||
		redis.IsClusterDownError(err) || redis.IsTryAgainError(err) || redis.IsOOMError(err) ||
		redis.IsNoReplicasError(err) || redis.IsMaxClientsError(err) || redis.HasErrorPrefix(err, "BUSY")
}

var _ idempotency.Store = (*Store)(nil)
