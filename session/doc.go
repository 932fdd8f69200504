// Package session gives net/http handlers PHP's sessions with PHP's locking,
// and the ways out of it.
//
// PHP locks a session from session_start() until session_write_close() or
// the end of the script, so two requests of one client never write the
// session at the same time; the price is what a user note in PHP's manual
// complains of: "the new page cannot load until the original processing has
// finished". Go's
// session libraries have the opposite problem: no lock, so concurrent
// requests lose each other's updates. This package has both: the lock, and
// WriteClose, read-only starts, and release at Finish.
//
//	m, err := session.New(store) // memstore, boltstore or redisstore
//	...
//	func handler(w http.ResponseWriter, r *http.Request) {
//		s, err := m.Start(w, r) // waits for the lock, at most 10s
//		if errors.Is(err, session.ErrLockTimeout) {
//			http.Error(w, "busy", http.StatusServiceUnavailable)
//			return
//		}
//		n, _, _ := session.Value[int](s, "visits")
//		_ = s.Set("visits", n+1)
//		_ = s.WriteClose(r.Context()) // before slow work: other requests proceed
//		...
//	}
//
// # PHP and Lifeline
//
//	| PHP                                        | Lifeline                                                       |
//	| ------------------------------------------ | -------------------------------------------------------------- |
//	| session_start()                            | Manager.Start                                                  |
//	| session_start(['read_and_close' => true])  | Manager.StartReadOnly                                          |
//	| session.auto_start                         | Manager.Handler                                                |
//	| $_SESSION[k], isset, unset, session_unset  | Session.Get, Value, Session.Set, Session.Delete, Session.Clear |
//	| session_write_close() / session_commit()   | Session.WriteClose                                             |
//	| session_abort()                            | Session.Abort                                                  |
//	| session_reset()                            | Session.Reset                                                  |
//	| session_regenerate_id($delete)             | Session.Regenerate                                             |
//	| session_destroy()                          | Session.Destroy                                                |
//	| session_id(), session_status()             | Session.ID, Session.Active                                     |
//	| session.save_handler (files, redis...)     | Store: memstore, boltstore, redisstore                         |
//	| session.name, cookie_*, gc_maxlifetime     | WithCookieName, WithSameSite, ..., WithIdleTimeout             |
//	| session.lazy_write = 1                     | WithLazyWrite (default true)                                   |
//	| session.use_strict_mode = 1                | always on; WithMigration for an existing system's ids          |
//	| session.sid_length, sid_bits_per_character | 192 random bits, 32 base64url characters                       |
//	| flock(LOCK_EX): waits forever              | WithLockWait (default 10s, then ErrLockTimeout)                |
//
// # Lifetime of the lock
//
// The lock is taken by Start and held until WriteClose, Abort or Destroy.
// Inside a Lifeline run ([lifeline.FromContext]) the run releases it for
// you, with [lifeline.Run.BeforeRelease]:
//   - at [lifeline.Run.Finish], just before the final output flush, while
//     the response is still in the buffers: the client's next request never
//     waits for the work that follows Finish (PHP-FPM keeps the lock through
//     fastcgi_finish_request; ask for that with [Session.KeepAfterFinish]),
//     and a session that cannot be saved can still turn the answer into a
//     503;
//   - otherwise at the end of the run, after the shutdown functions and
//     just before the final flush: changes made in shutdown functions are
//     saved, as in PHP's RSHUTDOWN, but PHP writes the session after its
//     final flush and Lifeline before it, so a client never holds the
//     complete response while the lock its next request asks for is still
//     held.
//
// The run is annotated "session" = "waiting #a1b2c3", "locked #a1b2c3" or
// "released #a1b2c3" (a short hash of the id, never the id), so the status
// page shows who holds a session and who waits for it.
//
// Outside a run, wrap the handler with [Manager.Handler] or defer
// WriteClose. Either way a session never stays locked forever: every lock
// has a TTL in its store ([WithLockTTL], 30s); the Manager refreshes the
// locks it holds every third of the TTL, for at most [WithMaxLockHold]
// (5 minutes); and a Session dropped without being closed stops being
// refreshed when it is garbage collected.
//
// # Values
//
// Values are stored as JSON: encoded by Set (so an unencodable value fails
// there), decoded by Get into the caller's type (so no gob.Register, no
// global type registry), canonical (so lazy write can tell that nothing
// changed), and readable from redis-cli or another language. A value that
// no longer decodes into the type asked for is [ErrCorrupt], as is a record
// that cannot be decoded at all; such a record is destroyed, as PHP does.
//
// # Security
//
// Ids are 192 bits from crypto/rand, base64url (32 characters). Strict mode
// is always on: an id the store does not know is never adopted, a new one
// is issued (no session fixation); call [Session.Regenerate] at login.
// [WithMigration] opts in to the ids of an existing system, such as a PHP
// application's, still only for sessions that the store or that system
// knows. A
// cookie value that is not a well-formed id ([ParseID]) never reaches the
// store. The cookie is HttpOnly, Secure on TLS requests (or always, with
// [WithSecure]), SameSite=Lax by default, and set on w.Header() at Start
// and Regenerate; inside a run whose headers have gone out, Start fails
// with [ErrHeadersSent], like PHP's "Session cannot be started after
// headers have already been sent".
//
// # Stores
//
// A [Store] keeps data and locks; its doc comment is the whole contract and
// package sessiontest checks it. memstore keeps them in memory (tests, one
// process), boltstore in a bbolt file (one process, survives restarts),
// redisstore in Redis (many processes and machines).
package session
