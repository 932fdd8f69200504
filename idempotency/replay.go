package idempotency

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// replay writes a recorded response to w.
func (m *Middleware) replay(w http.ResponseWriter, r *http.Request, rec *Record) {
	if rec.Hijacked {
		writeProblem(w, http.StatusConflict, fmt.Sprintf("idempotency: the request with this %s was processed, but it took over its connection, so there is no response to replay", m.opts.header))
		return
	}
	h := w.Header()
	for k, vs := range rec.Header {
		h[k] = append([]string(nil), vs...) // rec is shared with other replays
	}
	h.Set(m.opts.replayHeader, "true")
	if rec.BodyOmitted && bodyAllowed(rec.StatusCode) {
		for _, k := range [...]string{"Content-Type", "Content-Encoding", "Content-Range", "Content-Language",
			"Content-Location", "Content-Disposition", "Content-Md5", "Content-Digest", "Repr-Digest", "Digest",
			"Etag", "Last-Modified"} {
			h.Del(k)
		}
		writeProblem(w, rec.StatusCode, fmt.Sprintf("idempotency: the request with this %s was processed with status %d, but its %d-byte response body was too large to be stored, so it cannot be replayed", m.opts.header, rec.StatusCode, rec.BodySize))
		return
	}
	// Inside a run, the output stack sets Content-Length after its handlers.
	if bodyAllowed(rec.StatusCode) && runOf(r) == nil {
		h.Set("Content-Length", strconv.Itoa(len(rec.Body)))
	}
	w.WriteHeader(rec.StatusCode)
	if bodyAllowed(rec.StatusCode) && len(rec.Body) > 0 {
		_, _ = w.Write(rec.Body)
	}
}

// bodyAllowed reports whether a response with status code may have a body
// (RFC 9110 section 6.4.1).
func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

// problem is an RFC 9457 problem detail; Type is left out, which means
// "about:blank": the status code says it all and Title is its phrase.
type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// writeProblem answers with status and an application/problem+json body
// whose detail is detail. Fields set on w's header before are kept.
func writeProblem(w http.ResponseWriter, status int, detail string) {
	b, err := json.Marshal(problem{Title: http.StatusText(status), Status: status, Detail: detail})
	if err != nil { // cannot happen: three plain fields
		b = []byte(`{}`)
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
