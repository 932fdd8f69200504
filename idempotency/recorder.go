package idempotency

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
)

// recorder is the ResponseWriter a protected handler writes to. It passes
// every call through to the inner writer and records the response for
// replay: the first final status, the header as it was at the first write
// (net/http's snapshot point), and the body up to a cap. It never buffers
// or changes the response.
//
// A recorder is owned by the handler's goroutine (inside Lifeline, the run
// goroutine). take may be called from a [lifeline.Run.BeforeRelease] hook;
// the mutex keeps a handler that writes after Finish from another goroutine
// from racing with it.
type recorder struct {
	w       http.ResponseWriter
	maxBody int64
	logger  *slog.Logger

	mu       sync.Mutex // guards the fields below
	status   int        // first final status code; 0 until committed
	header   http.Header
	body     []byte
	size     int64 // body bytes written, stored or not
	omitted  bool  // size passed maxBody: body dropped
	hijacked bool
	sealed   bool // take was called; later calls are not recorded
}

// Header returns the inner writer's header map: the handler's changes go
// straight to the response.
func (rw *recorder) Header() http.Header { return rw.w.Header() }

// WriteHeader records the first final status code and passes the call on.
// Informational (1xx) codes pass through unrecorded; invalid codes are left
// to the inner writer (net/http panics on them). A call after the header
// was committed (by WriteHeader, Write or Flush) is dropped and logged with
// its caller's file:line, as net/http does for its own writer, so that the
// log names the handler rather than this wrapper.
func (rw *recorder) WriteHeader(code int) {
	if code >= 100 && code <= 999 {
		rw.mu.Lock()
		committed := rw.status != 0
		if !committed && (code >= 200 || code == http.StatusSwitchingProtocols) {
			rw.commitLocked(code)
		}
		rw.mu.Unlock()
		if committed {
			rw.superfluous(code)
			return
		}
	}
	rw.w.WriteHeader(code)
}

// superfluous logs a WriteHeader call that came too late.
func (rw *recorder) superfluous(code int) {
	if rw.logger == nil {
		return
	}
	_, file, line, _ := runtime.Caller(2)
	rw.logger.Warn("idempotency: superfluous WriteHeader call ignored",
		slog.Int("code", code), slog.String("caller", fmt.Sprintf("%s:%d", file, line)))
}

// Write records p (the header is committed with 200 if it was not yet) and
// passes it on. p is recorded whole even if the inner write fails: the
// record is what the handler produced, not what reached this client.
func (rw *recorder) Write(p []byte) (int, error) {
	rw.mu.Lock()
	rw.commitLocked(http.StatusOK)
	rw.appendLocked(p)
	rw.mu.Unlock()
	return rw.w.Write(p)
}

// ReadFrom copies src through Write while the body is being recorded, so
// that every byte is counted and kept; once the body is no longer recorded
// (too large, or sealed by Finish) it uses the inner writer's fast path
// (sendfile, for net/http) and only counts.
func (rw *recorder) ReadFrom(src io.Reader) (int64, error) {
	rw.mu.Lock()
	rw.commitLocked(http.StatusOK)
	recording := !rw.sealed && !rw.omitted
	rw.mu.Unlock()
	if recording {
		return io.Copy(writerOnly{rw}, src)
	}
	n, err := io.Copy(rw.w, src)
	rw.mu.Lock()
	if !rw.sealed {
		rw.size += n
	}
	rw.mu.Unlock()
	return n, err
}

// FlushError flushes the inner writer through [http.ResponseController]. A
// successful flush sends the header, so the status is committed (200 if
// none was written); the header is recorded before the inner writer sees
// the call.
func (rw *recorder) FlushError() error {
	rw.mu.Lock()
	snapshot := rw.status == 0 && !rw.sealed
	var h http.Header
	if snapshot {
		h = recordedHeader(rw.w.Header())
	}
	rw.mu.Unlock()
	err := http.NewResponseController(rw.w).Flush()
	if snapshot && (err == nil || !errors.Is(err, http.ErrNotSupported)) {
		rw.mu.Lock()
		if rw.status == 0 && !rw.sealed {
			rw.status, rw.header = http.StatusOK, h
		}
		rw.mu.Unlock()
	}
	return err
}

// Flush calls FlushError, for callers that assert [http.Flusher].
func (rw *recorder) Flush() { _ = rw.FlushError() }

// Hijack hands the connection over through [http.ResponseController]; it
// fails with an error matching [http.ErrNotSupported] where the inner
// writer cannot (HTTP/2). After a hijack there is no response to replay:
// the key is completed with a record saying so.
func (rw *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(rw.w).Hijack()
	if err == nil {
		rw.mu.Lock()
		rw.hijacked = true
		rw.mu.Unlock()
	}
	return conn, brw, err
}

// Unwrap returns the inner writer, for [http.ResponseController].
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.w }

// commitLocked records code and the header snapshot, unless a status was
// already recorded.
func (rw *recorder) commitLocked(code int) {
	if rw.status != 0 || rw.sealed {
		return
	}
	rw.status = code
	rw.header = recordedHeader(rw.w.Header())
}

func (rw *recorder) appendLocked(p []byte) {
	if rw.sealed {
		return
	}
	rw.size += int64(len(p))
	if rw.omitted {
		return
	}
	if rw.size > rw.maxBody {
		rw.omitted, rw.body = true, nil
		return
	}
	rw.body = append(rw.body, p...)
}

// take seals the recorder and returns the record of the response so far;
// a handler that wrote nothing gets 200 and the header as it is now.
// Later writes pass through unrecorded.
func (rw *recorder) take() *Record {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.commitLocked(http.StatusOK)
	rw.sealed = true
	if rw.hijacked {
		return &Record{Hijacked: true, BodyOmitted: true, BodySize: rw.size}
	}
	return &Record{
		StatusCode:  rw.status,
		Header:      rw.header,
		Body:        rw.body,
		BodySize:    rw.size,
		BodyOmitted: rw.omitted,
	}
}

// writerOnly hides every method but Write, so that io.Copy does not call
// the recorder's ReadFrom again.
type writerOnly struct{ io.Writer }

// perExchange reports whether the canonical field name k is left out of a
// record: hop-by-hop fields (RFC 9110 section 7.6.1), fields net/http
// computes for each response (Date; Content-Length, recomputed on replay),
// and Set-Cookie. A replayed cookie would hand a session, CSRF token or
// one-time cookie meant for one exchange to whoever holds the key; cookies
// describe the exchange, not the result.
func perExchange(k string) bool {
	switch k {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Date", "Content-Length", "Set-Cookie":
		return true
	}
	return strings.HasPrefix(k, http.TrailerPrefix)
}

// recordedHeader returns a copy of h without the per-exchange fields and the
// fields named in Connection.
func recordedHeader(h http.Header) http.Header {
	out := h.Clone() // two allocations, whatever the number of fields
	for k, vs := range out {
		if len(vs) == 0 || perExchange(http.CanonicalHeaderKey(k)) {
			delete(out, k)
		}
	}
	for _, v := range h["Connection"] {
		for name := range strings.SplitSeq(v, ",") {
			out.Del(strings.TrimSpace(name))
		}
	}
	return out
}

var (
	_ http.ResponseWriter                       = (*recorder)(nil)
	_ http.Flusher                              = (*recorder)(nil)
	_ http.Hijacker                             = (*recorder)(nil)
	_ io.ReaderFrom                             = (*recorder)(nil)
	_ interface{ FlushError() error }           = (*recorder)(nil) // tried first by ResponseController
	_ interface{ Unwrap() http.ResponseWriter } = (*recorder)(nil)
)
