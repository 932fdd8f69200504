package lifeline

import (
	"net/http"
)

// runSink is the bottom of a run's output stack: it hands header and body to
// the connection side. It runs on the run's goroutine.
type runSink struct {
	ex            *exchange
	rn            *Run
	pendingCode   int         // final status code not yet handed over
	pendingHeader http.Header // the stack's header map, read by the connection side during hand-off
	deferLast     bool        // keep the next write for the release message (one hand-off, not two)
	last          []byte      // the kept write; the stack does not touch it until the hand-off is acked
}

// discarding reports whether output must be dropped: the client is gone
// (PHP disables output on abort, even with ignore_user_abort), or the
// connection side has returned.
func (s *runSink) discarding() bool {
	return s.ex.released || s.rn.status.Load()&uint32(Aborted) != 0
}

func (s *runSink) WriteHeader(code int, h http.Header) error {
	if code < 200 {
		if s.discarding() {
			return nil
		}
		m := &s.ex.msg
		*m = message{kind: msgInfo, code: code, header: h}
		err, _ := s.ex.send()
		return err
	}
	s.pendingCode, s.pendingHeader = code, h
	s.rn.mu.Lock()
	s.rn.code = code
	s.rn.mu.Unlock()
	return nil
}

// takeHeader moves the pending header into m.
func (s *runSink) takeHeader(m *message) {
	*m = message{code: s.pendingCode, header: s.pendingHeader}
	s.pendingCode, s.pendingHeader = 0, nil
}

func (s *runSink) Write(p []byte) (int, error) {
	if s.discarding() {
		return len(p), nil
	}
	if s.deferLast && s.last == nil {
		s.last = p
		return len(p), nil
	}
	m := &s.ex.msg
	s.takeHeader(m)
	m.kind, m.body = msgWrite, p
	err, ok := s.ex.send()
	m.body = nil
	if ok && err == nil {
		s.rn.bytes.Add(int64(len(p)))
	}
	return len(p), nil // a failed write is an abort, reported through the status
}

func (s *runSink) Flush() error {
	if s.discarding() {
		return nil
	}
	m := &s.ex.msg
	s.takeHeader(m)
	m.kind = msgFlush
	s.ex.send()
	return nil
}

// discardSink drops everything: the sink of a run after Finish, and of a run
// whose output must not reach the client.
type discardSink struct{}

func (discardSink) WriteHeader(int, http.Header) error { return nil }
func (discardSink) Write(p []byte) (int, error)        { return len(p), nil }
func (discardSink) Flush() error                       { return nil }
