package session

import (
	"context"
	"net/http"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/errid"
)

// attach ties an active session to its Lifeline run: the run's release hook
// writes and unlocks it, and a second Start in the run returns it.
func (m *Manager) attach(s *Session) {
	if s.rn == nil {
		return
	}
	m.mu.Lock()
	m.runs[s.rn] = s
	m.mu.Unlock()
	s.rn.BeforeRelease(s.release)
}

// detach forgets s as its run's active session.
func (m *Manager) detach(s *Session) {
	if s.rn == nil {
		return
	}
	m.mu.Lock()
	if m.runs[s.rn] == s {
		delete(m.runs, s.rn)
	}
	m.mu.Unlock()
}

// release is s's hook on its run ([lifeline.Run.BeforeRelease]). It runs in
// Finish, before the final flush, and at the end of the run, after the
// shutdown functions and before the final flush (PHP's RSHUTDOWN writes
// after it): the response is still in the buffers either way.
// In Finish a kept session registers itself again for the end of the run.
func (s *Session) release(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active {
		return
	}
	// Finish runs the hooks before it moves the run out of PhaseRunning; at
	// the end of the run the phase is PhaseShutdown or PhaseFinished.
	inFinish := s.rn.Phase() == lifeline.PhaseRunning
	if inFinish && (s.keep || s.m.opts.keepAfterFinal) {
		s.rn.BeforeRelease(s.release)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.m.opts.storeTimeout)
	defer cancel()
	if err := s.closeLocked(ctx, closeWrite); err != nil {
		id := errid.New()
		s.m.log.Error("session: writing the session at the end of the run", "id", id, "run", s.rn.ID(),
			"session", fingerprint(s.id), "err", err)
		s.failResponse(id)
	}
}

// failResponse replaces the response with a 503 when the session could not
// be written and nothing has gone to the client yet: the client must not be
// told of a change that was never saved. The release hooks run on the run's
// goroutine before the final flush, so the answer is still in the buffers.
// The client gets the id of the log line, never the error's text.
func (s *Session) failResponse(id string) {
	out := s.rn.Output()
	if out.DiscardAll() != nil {
		return // already on its way: the log line is all that can be done
	}
	h := out.Header()
	for _, k := range []string{"Content-Length", "Content-Encoding", "Etag", "Last-Modified", "Set-Cookie"} {
		h.Del(k)
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", "1")
	_ = out.WriteHeader(http.StatusServiceUnavailable)
	_, _ = out.Write([]byte(errid.Message("session could not be saved; try again", id) + "\n"))
}

// annotate shows the session's lock state on the run ("waiting #a1b2c3",
// "locked #a1b2c3", "released #a1b2c3"); an empty state removes the note.
func (s *Session) annotate(state, id string) {
	if s.rn == nil {
		return
	}
	if state == "" {
		s.rn.Annotate("session", "")
		return
	}
	s.rn.Annotate("session", state+" "+fingerprint(id))
}

func (s *Session) annotateLocked(state string) { s.annotate(state, s.id) }
