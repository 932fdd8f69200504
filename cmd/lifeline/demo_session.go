package main

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/session"
)

// sessionParams are the parameters of GET /demo/session.
type sessionParams struct {
	Hold  time.Duration // how long the run works with the session (default 5s)
	Close bool          // release the session before the work (session_write_close)
}

func parseSession(q url.Values) (sessionParams, error) {
	p := newParams(q)
	sp := sessionParams{
		Hold:  p.duration("hold", 5*time.Second),
		Close: p.boolean("close"),
	}
	return sp, p.done()
}

// sessionAnswer is the JSON answer of /demo/session. The times are the
// server's, so that two requests can be compared.
type sessionAnswer struct {
	Visits     int       `json:"visits"`
	Waited     string    `json:"waited"`    // time spent in Start, waiting for the lock
	LockedAt   time.Time `json:"locked_at"` // Start returned with the lock
	ReleasedAt time.Time `json:"released_at,omitzero"`
	Released   string    `json:"released"` // "early (WriteClose)" or "at the end of the run"
	Hold       string    `json:"hold"`
}

// session is GET /demo/session?hold=D[&close=1], the scenario of the PHP
// manual's user note on sessions (seeds/php-manual-connection-handling-notes.txt):
//
//	"The session only gets closed by PHP at the very end of the script, and
//	since access to the session data is locked to prevent more than one page
//	writing to it simultaneously, the new page cannot load until the original
//	processing has finished. Solution: Close the session manually when
//	redirecting using session_write_close()"
//
// and of the answer's "if you're using sessions, this prevents subsequent
// requests from hanging while the background process executes: if
// (session_id()) {session_write_close();}".
//
// The run starts the visitor's session (package session, stored in the
// server's database by sessionStore, or in Redis with -redis), counts the visit, and works for D
// holding the session's lock: a second request of the same visitor waits
// in Start until the first one ends. With close=1 it calls WriteClose before
// the work, and the second request goes through at once. The answer says
// how long Start waited for the lock, and when the lock was taken.
func (a *app) session(w http.ResponseWriter, r *http.Request, rn *lifeline.Run) {
	p, ok := parseQuery(w, r, parseSession)
	if !ok {
		return
	}
	start := time.Now()
	sess, err := a.sessions.Start(w, r) // session_start(): waits for the lock
	if err != nil {
		rn.Check() // the client left or the time limit expired while waiting
		a.sessionError(w, r, err)
		return
	}
	ans := sessionAnswer{LockedAt: time.Now(), Hold: p.Hold.String(), Released: "at the end of the run"}
	ans.Waited = ans.LockedAt.Sub(start).Round(time.Microsecond).String()
	visits, _, err := session.Value[int](sess, "visits")
	if err != nil {
		a.log.Warn("session: visits", "err", err) // start counting again
	}
	ans.Visits = visits + 1
	if err := sess.Set("visits", ans.Visits); err != nil {
		serverError(a.log, w, r, err)
		return
	}
	if p.Close {
		if err := sess.WriteClose(rn.Context()); err != nil { // session_write_close()
			a.sessionError(w, r, err)
			return
		}
		ans.ReleasedAt, ans.Released = time.Now(), "early (WriteClose)"
	}
	_ = pause(rn.Context(), p.Hold) // the work; a client that leaves ends the run at the answer
	writeJSON(w, http.StatusOK, ans)
}

// sessionError answers a session that could not be started or written:
// 503 with Retry-After when it is busy (another request holds its lock past
// the wait), when its write was refused because the lock expired meanwhile
// (this run stalled past the lock's TTL and another took it), or when the
// store is unavailable; 500 otherwise. The client gets a short
// message and an id, never the store's error, which may name its address
// or files (issue 19); the log has the detail under the same id.
func (a *app) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, session.ErrLockTimeout):
		w.Header().Set("Retry-After", "1")
		internalError(a.log, w, r, http.StatusServiceUnavailable, "session busy: another request holds it; try again", err)
	case errors.Is(err, session.ErrLockLost):
		w.Header().Set("Retry-After", "1")
		internalError(a.log, w, r, http.StatusServiceUnavailable, "session not saved: its lock expired while this request held it; try again", err)
	case errors.Is(err, session.ErrStoreUnavailable):
		w.Header().Set("Retry-After", "1")
		internalError(a.log, w, r, http.StatusServiceUnavailable, "session store unavailable; try again", err)
	default:
		serverError(a.log, w, r, err)
	}
}
