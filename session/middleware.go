package session

import (
	"context"
	"errors"
	"net/http"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/errid"
)

type ctxKey struct{}

// FromContext returns the session that [Manager.Handler] started for the
// request whose context is ctx.
func FromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(ctxKey{}).(*Session)
	return s, ok
}

// Handler starts the session of every request before next runs (PHP's
// session.auto_start) and puts it in the request context for
// [FromContext]. When the session cannot be started it calls the error
// handler ([WithErrorHandler]) instead of next.
//
// Outside a Lifeline run, Handler writes and unlocks the session when next
// returns or panics, unless next closed it first. Inside a run the run does
// it (at Finish or after the shutdown functions), as for [Manager.Start].
func (m *Manager) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := m.Start(w, r)
		if err != nil {
			m.errorHandler(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, s))
		if _, inRun := lifeline.FromContext(r.Context()); !inRun {
			defer m.closeAtEnd(r.Context(), s)
		}
		next.ServeHTTP(w, r)
	})
}

// closeAtEnd writes and unlocks s if it is still active, logging errors.
func (m *Manager) closeAtEnd(ctx context.Context, s *Session) {
	if !s.Active() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.opts.storeTimeout)
	defer cancel()
	if err := s.WriteClose(ctx); err != nil && !errors.Is(err, ErrSessionClosed) {
		m.log.Error("session: writing the session after the handler", "session", fingerprint(s.ID()), "err", err)
	}
}

// handleError is the default error handler of [Manager.Handler]. It
// answers a short message and an id the client can quote, never the
// error's text (a store's address, a file path): 503 with Retry-After: 1
// when the session is busy or the store unreachable, 500 otherwise. The
// log line has the same id and the error.
func (m *Manager) handleError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := http.StatusInternalServerError, "session: internal error"
	switch {
	case errors.Is(err, ErrLockTimeout):
		code, msg = http.StatusServiceUnavailable, "session busy: another request holds it; try again"
	case errors.Is(err, ErrStoreUnavailable):
		code, msg = http.StatusServiceUnavailable, "session store unavailable; try again"
	}
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	errid.Respond(m.log, w, r, code, msg, err)
}
