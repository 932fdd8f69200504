package session

import (
	"context"
	"strconv"
	"time"
)

// Store keeps session data and the session locks. Its methods are the whole
// contract between the [Manager] and a backend; package sessiontest checks
// it (sessiontest.Run), and every store in this module runs that suite.
//
// Ids reach a store only after [ParseID] accepted them. Every method may be
// called from any goroutine, and honours ctx: when ctx is done before the
// operation took effect, it returns an error that wraps [context.Cause] of
// ctx (so a Manager's lock wait returns [ErrLockTimeout], a Lifeline run's
// client abort returns its cause); an in-process store may still complete
// an Unlock, as releasing is never worth refusing. A store that cannot be
// reached returns an error wrapping [ErrStoreUnavailable].
//
// Data:
//   - Load returns a copy of the data last saved under id, or [ErrNotFound]
//     when there is none or it has expired. It needs no lock (PHP's
//     read_and_close reads without one).
//   - Save stores a copy of data under id, to expire ttl from now.
//   - Touch moves the expiry of id's data to ttl from now without rewriting
//     it (PHP's update_timestamp, used by lazy writes); [ErrNotFound] when
//     there is no data.
//   - Delete removes id's data; deleting nothing is not an error.
//
// Save, Touch and Delete change data, so they take the caller's lock token
// and fail with [ErrLockLost] unless that token is the current holder of
// id's lock. A holder that was paused past its lock's TTL therefore cannot
// overwrite what the next holder saved. The check and the change are one
// atomic step.
//
// Locks (PHP's flock(LOCK_EX) on the session file, with a TTL):
//   - Lock blocks until it holds id's exclusive lock or ctx is done. The
//     lock expires ttl after it was granted unless refreshed, so a holder
//     that dies (process killed, machine gone) cannot keep it forever.
//     Waiting is notified where the backend allows (memory, bolt: at once,
//     in arrival order), polled otherwise. Lock on an id with no data is
//     allowed: that is how a new session is created. If Lock returns an
//     error the caller holds nothing.
//   - The returned [LockToken] identifies this grant. Its Fence is larger
//     than the Fence of every earlier grant of the same id (fencing token)
//     for as long as the store keeps id's data.
//   - Refresh sets the lock's expiry to ttl from now; [ErrLockLost] if the
//     token is not the holder. The [Manager] refreshes the locks it holds
//     (every third of the lock TTL), so stores start no goroutines for it.
//   - Unlock releases the lock, only for its holder: any other token gets
//     [ErrLockLost] and the lock is untouched. The next waiter, if any,
//     gets the lock.
type Store interface {
	Load(ctx context.Context, id string) ([]byte, error)
	Save(ctx context.Context, id string, lock LockToken, data []byte, ttl time.Duration) error
	Touch(ctx context.Context, id string, lock LockToken, ttl time.Duration) error
	Delete(ctx context.Context, id string, lock LockToken) error

	Lock(ctx context.Context, id string, ttl time.Duration) (LockToken, error)
	Refresh(ctx context.Context, id string, lock LockToken, ttl time.Duration) error
	Unlock(ctx context.Context, id string, lock LockToken) error
}

// LockToken identifies one grant of a session lock, returned by
// [Store.Lock]. Both fields must match for the store to accept it.
type LockToken struct {
	// Fence is the fencing token: it grows with every grant of the same
	// id's lock, so a system downstream can refuse writes that carry an
	// older fence than one it has seen.
	Fence uint64
	// Nonce is a random value unique to this grant.
	Nonce string
}

// String formats the token as "fence:nonce", the form the Redis store keeps.
func (t LockToken) String() string {
	return strconv.FormatUint(t.Fence, 10) + ":" + t.Nonce
}
