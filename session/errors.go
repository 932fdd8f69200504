package session

import "errors"

// Sentinel errors. Errors returned by the Manager, the Session and the stores
// wrap them: test with errors.Is.
var (
	// ErrNotFound is returned by [Store.Load] and [Store.Touch] when the store
	// holds no live data for the id.
	ErrNotFound = errors.New("session: not found")
	// ErrLockLost is returned when a lock token is not, or no longer, the
	// holder of the id's lock: it expired and may have been granted to
	// someone else, it was released, or it was never valid. Stores refuse
	// every change made with such a token.
	ErrLockLost = errors.New("session: lock not held")
	// ErrLockTimeout is returned by [Manager.Start] when the session's lock
	// was not acquired within the lock wait ([WithLockWait]). A handler
	// usually answers 503 with Retry-After, or 409.
	ErrLockTimeout = errors.New("session: lock wait timed out")
	// ErrSessionClosed is returned by changes to a session that is no longer
	// active: after [Session.WriteClose], [Session.Abort], [Session.Destroy],
	// the end of the run, or for a read-only session.
	ErrSessionClosed = errors.New("session: session is closed")
	// ErrCorrupt is returned when stored data cannot be decoded: a whole
	// record (by [Manager.Start], which then destroys it, as PHP does) or one
	// value that does not fit the type asked for (by [Session.Get]).
	ErrCorrupt = errors.New("session: corrupt data")
	// ErrStoreUnavailable is wrapped, together with the underlying network or
	// file error, when the store cannot be reached (Redis down or
	// restarting, a closed bolt file). It is never turned into an empty
	// session.
	ErrStoreUnavailable = errors.New("session: store unavailable")
	// ErrHeadersSent is returned by [Manager.Start] and [Session.Regenerate]
	// inside a Lifeline run whose headers were already sent, when the
	// session cookie could no longer reach the client (PHP's "Session cannot
	// be started after headers have already been sent"). It also matches
	// output.ErrHeadersSent.
	ErrHeadersSent = errors.New("session: headers already sent")
	// ErrInvalidID is returned by [ParseID] for a string that is not a
	// well-formed session id.
	ErrInvalidID = errors.New("session: invalid session id")
	// ErrInvalidOption wraps every option validation error from [New].
	ErrInvalidOption = errors.New("session: invalid option")
)
