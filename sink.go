package lifeline

import (
	"net/http"
	"strings"
)

// runSink is the bottom of a run's output stack, on the run side: it writes
// header and body to the ResponseWriter the connection side lent it (see
// exchange), one call at a time under the exchange's lock.
type runSink struct {
	ex            *exchange
	rn            *Run
	pendingCode   int         // final status code not yet written
	pendingHeader http.Header // the stack's header map, written with the first byte
	final         bool        // EndAll of Finish or of the end of the run is writing
	// lost: some of the response never reached the ResponseWriter (dropped
	// after an abort or after the connection side returned, or a failed
	// call). A client that leaves after nothing was lost may have had it
	// all: its acknowledgements decide the delivery, not when it left.
	lost bool
}

// shortBody is the largest body, written in one piece at the end, for which
// Lifeline leaves Content-Length to net/http: HTTP/1 computes the same exact
// length for a handler that ends with less than its 2 KiB buffer unflushed,
// and HTTP/2 for less than its 4 KiB one. Not touching the header map keeps
// net/http on its fast header path.
const shortBody = 2048

// discarding reports whether output must be dropped: the client is gone
// (PHP disables output on abort, even with ignore_user_abort), or the
// connection side has returned.
func (s *runSink) discarding() bool {
	return s.ex.released || s.rn.status.Load()&uint32(Aborted) != 0
}

func (s *runSink) WriteHeader(code int, h http.Header) error {
	if code >= 200 {
		s.pendingCode, s.pendingHeader = code, h
		return nil
	}
	if s.discarding() {
		return nil
	}
	w, ok := s.ex.acquire()
	if !ok {
		return nil
	}
	defer s.ex.unlock()
	copyHeader(w.Header(), h)
	w.WriteHeader(code)
	return nil
}

// writeHeaderLocked writes the pending final header; ex.mu is held. body is
// the body about to follow, for the short-body rule.
func (s *runSink) writeHeaderLocked(w http.ResponseWriter, body []byte) {
	code, h := s.pendingCode, s.pendingHeader
	s.pendingCode, s.pendingHeader = 0, nil
	if code == 0 {
		return
	}
	s.ex.wroteHeader = true
	s.rn.code.Store(int32(code))
	if s.final && len(body) < shortBody && onlyContentLength(h) {
		// The whole body follows in this write and the header holds only
		// the length EndAll set: net/http sets the same exact length.
		if code != http.StatusOK {
			w.WriteHeader(code)
		}
		return
	}
	if len(h) > 0 {
		copyHeader(w.Header(), h)
	}
	w.WriteHeader(code)
}

func onlyContentLength(h http.Header) bool {
	if len(h) == 0 {
		return true
	}
	if len(h) != 1 {
		return false
	}
	_, ok := h["Content-Length"]
	return ok
}

func (s *runSink) Write(p []byte) (int, error) {
	if s.discarding() {
		s.lost = s.lost || len(p) > 0
		return len(p), nil
	}
	n0 := len(p)
	if n0 > stallPiece && s.rn.stallNeeded.Load() {
		// The stall bound times one call on the ResponseWriter: a slow
		// client that keeps taking bytes must not be cut because one
		// write was large, so large writes go out in pieces.
		for len(p) > 0 && !s.discarding() {
			n := min(len(p), stallPiece)
			if !s.write(p[:n]) {
				break
			}
			p = p[n:]
		}
		s.lost = s.lost || len(p) > 0
		return n0, nil
	}
	s.write(p)
	return len(p), nil // a failed write is an abort, reported through the status
}

// stallPiece is the largest piece of a write the stall bound times.
const stallPiece = 64 << 10

// write writes p to the client. It reports false when the write failed or
// the run side may no longer write.
func (s *runSink) write(p []byte) bool {
	w, ok := s.ex.acquire()
	if !ok {
		s.lost = true
		return false
	}
	s.writeHeaderLocked(w, p)
	_, err := w.Write(p)
	s.ex.unlock()
	if err == nil {
		s.rn.bytes.Add(int64(len(p)))
		return true
	}
	if !isBodyNotAllowed(err) {
		s.lost = true
		s.failed(err)
	}
	return false
}

// failed records a failed call on the ResponseWriter. A call that failed
// because the connection side bounded it (the write deadline past the time
// limit, or taking w back) is not the client leaving: the response is cut,
// and the status keeps what the connection side recorded.
func (s *runSink) failed(err error) {
	if s.ex.overtime.Load() || s.ex.revoked.Load() {
		return
	}
	s.rn.abort(s.rn.cw.causeOf(err))
}

func (s *runSink) Flush() error {
	if s.discarding() {
		return nil
	}
	w, ok := s.ex.acquire()
	if !ok {
		return nil
	}
	s.writeHeaderLocked(w, nil)
	err := http.NewResponseController(w).Flush()
	s.ex.unlock()
	if err != nil && !isNotSupported(err) {
		s.failed(err)
	}
	return nil
}

// finishResponse ends the response on the run side, after EndAll: it writes
// a header that no body followed, and the trailers' values, which the
// handler may have set after the body.
func (s *runSink) finishResponse() {
	if s.discarding() {
		s.lost = s.lost || s.pendingCode != 0
		s.pendingCode, s.pendingHeader = 0, nil
		return
	}
	if s.pendingCode == 0 && (!s.ex.wroteHeader || onlyContentLength(s.ex.stack.Header())) {
		return // the header went out, and no trailer follows: nothing to write
	}
	w, ok := s.ex.acquire()
	if !ok {
		s.lost = true
		return
	}
	defer s.ex.unlock()
	s.writeHeaderLocked(w, nil)
	if h := s.ex.stack.Header(); s.ex.wroteHeader && !onlyContentLength(h) {
		copyTrailers(w.Header(), h)
	}
}

// copyTrailers copies the values of the trailers that src declares (in its
// Trailer field, or with [http.TrailerPrefix]) into dst.
func copyTrailers(dst, src http.Header) {
	for _, v := range src["Trailer"] {
		for _, k := range strings.Split(v, ",") {
			k = http.CanonicalHeaderKey(strings.TrimSpace(k))
			if vv, ok := src[k]; ok {
				dst[k] = vv
			}
		}
	}
	for k, vv := range src {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			dst[k] = vv
		}
	}
}

// discardSink drops everything: the sink of a run after Finish, and of a run
// whose output must not reach the client.
type discardSink struct{}

func (discardSink) WriteHeader(int, http.Header) error { return nil }
func (discardSink) Write(p []byte) (int, error)        { return len(p), nil }
func (discardSink) Flush() error                       { return nil }
