package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/idempotency"
)

// demoFunc is a demo endpoint: a handler that runs inside a Lifeline run and
// is given that run.
type demoFunc func(w http.ResponseWriter, r *http.Request, rn *lifeline.Run)

// ServeHTTP finds the request's run and calls f. Every demoFunc is mounted
// under the pool, so a request without a run is a wiring mistake: 500.
func (f demoFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rn, ok := lifeline.FromContext(r.Context())
	if !ok {
		http.Error(w, "demo endpoint mounted outside a Lifeline pool", http.StatusInternalServerError)
		return
	}
	f(w, r, rn)
}

// writeJSON answers v as indented JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	rec, err := jsonRecord(code, v)
	if err != nil {
		internalError(slog.Default(), w, nil, http.StatusInternalServerError, "internal error", err)
		return
	}
	writeRecord(w, rec)
}

// jsonRecord returns the answer code with v as indented JSON, as a record
// that can be written (writeRecord) and kept for idempotent replays.
func jsonRecord(code int, v any) (*idempotency.Record, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // URIs with & stay readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding the answer: %w", err)
	}
	h := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}}
	return &idempotency.Record{StatusCode: code, Header: h, Body: buf.Bytes(), BodySize: int64(buf.Len())}, nil
}

// writeRecord writes rec as the answer.
func writeRecord(w http.ResponseWriter, rec *idempotency.Record) {
	for k, v := range rec.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.StatusCode)
	_, _ = w.Write(rec.Body)
}

// badRequest answers 400 with err's message, which names the parameter.
func badRequest(w http.ResponseWriter, err error) {
	http.Error(w, err.Error(), http.StatusBadRequest)
}

// serverError logs err and answers 500 "internal error (id ...)": a client
// never sees an internal error's text (a file path, a store address), only
// an id it can quote, which the log line has too (issue 19).
func serverError(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	internalError(log, w, r, http.StatusInternalServerError, "internal error", err)
}

// internalError logs err with a fresh id and answers code with
// "msg (id ID)". It logs the path, not the query, which may carry secrets.
// r may be nil.
func internalError(log *slog.Logger, w http.ResponseWriter, r *http.Request, code int, msg string, err error) {
	id := errorID()
	attrs := []any{"id", id, "code", code, "err", err}
	if r != nil {
		attrs = append(attrs, "method", r.Method, "path", r.URL.Path)
	}
	log.Error("request failed", attrs...)
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, msg+" (id "+id+")", code)
}

// errorID returns 8 random bytes in hex, the id of one internal error.
func errorID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// pause waits d, or less if ctx is done first; then it returns ctx's cause
// (lifeline.ErrClientAborted, ErrTimeLimit or ErrServerShutdown inside a
// run). This is how the demos "work": sleeping with the run context, as a
// database call or an HTTP request made with it would wait.
func pause(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// reason names why work was cut short, for records.
func reason(err error) string {
	switch {
	case errors.Is(err, lifeline.ErrTimeLimit):
		return "time limit"
	case errors.Is(err, lifeline.ErrServerShutdown):
		return "server shutdown"
	case errors.Is(err, lifeline.ErrClientAborted):
		return "client aborted"
	case err == nil:
		return ""
	}
	return err.Error()
}
