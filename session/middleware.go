package session

import (
	"context"
	"errors"
	"net/http"

	"github.com/lifeline-go/lifeline"
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
			m.opts.errorHandler(w, r, err)
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

// defaultErrorHandler answers 503 (with Retry-After) when the session is
// busy or the store unreachable, 500 otherwise.
func defaultErrorHandler(w http.ResponseWriter, _ *http.Request, err error) {
	if errors.Is(err, ErrLockTimeout) || errors.Is(err, ErrStoreUnavailable) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
		return
	}
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}
