// Package errid names one internal error for the client that met it and
// for the log: a client gets a short message and the id, never the error's
// text (a file path, a store address); the log line has the id and the
// text, so an operator finds the one from the other.
package errid

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
)

// New returns a fresh id: 8 random bytes in hex (16 characters).
func New() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// Respond logs err at level Error with a fresh id, r's method and path (not
// its query, which may carry secrets) and msg, and answers code with
// "msg (id ID)", Cache-Control: no-store. It returns the id. r may be nil.
func Respond(log *slog.Logger, w http.ResponseWriter, r *http.Request, code int, msg string, err error) string {
	id := New()
	attrs := []any{"id", id, "code", code, "err", err}
	if r != nil {
		attrs = append(attrs, "method", r.Method, "path", r.URL.Path)
	}
	log.Error(msg, attrs...)
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, Message(msg, id), code)
	return id
}

// Message returns the text a client sees for an error with this id:
// "msg (id ID)".
func Message(msg, id string) string { return msg + " (id " + id + ")" }
