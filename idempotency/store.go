package idempotency

import (
	"context"
	"fmt"
	"time"
)

// Store keeps the idempotency keys: which keys are taken, by which request
// (its fingerprint), and the recorded response once the request has run.
//
// A reservation is a lease: it lives for the duration given to Reserve,
// and the run that holds it renews it with Renew while it is alive. If the
// process dies, the renewals stop and the key is free again when the lease
// runs out, seconds later, rather than when a completed key would expire.
//
// Implementations must be safe for concurrent use, and, when several
// processes share one store, Reserve must be atomic across all of them: two
// callers can never both get [StateReserved] for one key while the entry
// lives. The packages memstore (one process), boltstore (one file),
// redisstore (any number of processes) and sqlstore (SQLite or PostgreSQL,
// in the database of the side effects, in its own module) implement it, and
// idempotencytest.Run checks an implementation against this contract.
//
// Errors that mean the store cannot be reached should match
// [ErrStoreUnavailable] (the middleware then answers 503); keys are opaque
// strings of up to a few hundred bytes. A [Record] given to Complete or
// returned by Reserve is read-only for both sides, so a store may keep one
// value and return it to every caller.
type Store interface {
	// Reserve claims key for one run if the store holds no live entry for
	// it: it records fingerprint and token, keeps the reservation for
	// lease, and returns StateReserved. Otherwise it returns what the entry
	// is, checking the fingerprint first: StateMismatch if the entry's
	// fingerprint differs from fingerprint, else StateInProgress while the
	// entry is reserved, or StateCompleted with the entry's Record.
	Reserve(ctx context.Context, key, fingerprint, token string, lease time.Duration) (Reservation, error)

	// Renew extends the reservation of key made with token to lease from
	// now. It returns an error matching [ErrReservationLost] if key is not
	// reserved with token: the lease ran out, or the key was completed or
	// released.
	Renew(ctx context.Context, key, token string, lease time.Duration) error

	// Complete replaces the reservation of key made with token by rec,
	// kept for ttl from now. It returns an error matching
	// [ErrReservationLost] if key is not reserved with token.
	Complete(ctx context.Context, key, token string, rec *Record, ttl time.Duration) error

	// Release removes the reservation of key made with token, so that the
	// next request with that key runs. It returns an error matching
	// [ErrReservationLost] if key is not reserved with token.
	Release(ctx context.Context, key, token string) error
}

// State says what [Store.Reserve] found.
type State uint8

// The outcomes of [Store.Reserve].
const (
	// StateReserved: the key was free and now belongs to the caller.
	StateReserved State = iota + 1
	// StateInProgress: another run holds the key and has not finished.
	StateInProgress
	// StateCompleted: a run finished; [Reservation.Record] is its response.
	StateCompleted
	// StateMismatch: the key is taken by a request with another fingerprint.
	StateMismatch
)

// String returns the state's name, such as "reserved".
func (s State) String() string {
	switch s {
	case StateReserved:
		return "reserved"
	case StateInProgress:
		return "in progress"
	case StateCompleted:
		return "completed"
	case StateMismatch:
		return "fingerprint mismatch"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Reservation is the result of [Store.Reserve].
type Reservation struct {
	State State
	// Record is the stored response when State is StateCompleted, else nil.
	Record *Record
}
