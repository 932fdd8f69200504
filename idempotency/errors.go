package idempotency

import "errors"

var (
	// ErrStoreUnavailable is matched (errors.Is) by every store error that
	// means the store could not be reached or cannot serve right now: a
	// Redis server that is down, a timed-out connection, a replica that is
	// read-only or loading. The middleware answers 503 Service Unavailable
	// and never runs the handler without protection.
	ErrStoreUnavailable = errors.New("idempotency: store unavailable")

	// ErrReservationLost is returned by [Store.Renew], [Store.Complete] and
	// [Store.Release] when the key is not reserved with the given token any
	// more: the lease ran out (see [WithLease]) and was taken over or
	// removed, or it was already completed or released.
	ErrReservationLost = errors.New("idempotency: reservation lost")

	// ErrInvalidKey is matched by the errors of [ParseKey]; the message says
	// what is wrong with the key.
	ErrInvalidKey = errors.New("idempotency: invalid key")

	// ErrCorruptRecord is matched by the errors of [Record.UnmarshalBinary]
	// for data that [Record.MarshalBinary] did not produce.
	ErrCorruptRecord = errors.New("idempotency: corrupt record")

	// ErrInvalidOption is matched by the errors of [New] for a nil option
	// or an option value it cannot use, and by those of the stores'
	// constructors (memstore.New, boltstore.New, redisstore.New,
	// sqlstore.New), whose messages start with the store's name.
	ErrInvalidOption = errors.New("idempotency: invalid option")

	// errBodyTooLarge is readBody's answer to a body over the limit.
	errBodyTooLarge = errors.New("idempotency: request body too large")
)
