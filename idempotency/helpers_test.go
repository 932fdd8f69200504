package idempotency_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/idempotency/memstore"
)

func newMem(t testing.TB) *memstore.Store {
	t.Helper()
	s, err := memstore.New()
	if err != nil {
		t.Fatalf("memstore.New: %v", err)
	}
	return s
}

// request builds a protected request; key "" sends no key header.
func request(method, target, key, body string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
	}
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

type problemBody struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// wantProblem checks that w is a problem detail with status and a detail
// containing detail.
func wantProblem(t *testing.T, w *httptest.ResponseRecorder, status int, detail string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %q", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problemBody
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body %q: %v", w.Body, err)
	}
	if p.Status != status || !strings.Contains(p.Detail, detail) {
		t.Fatalf("problem = %+v, want status %d and a detail containing %q", p, status, detail)
	}
}

// failingStore is a Store whose every call fails with err.
type failingStore struct{ err error }

func (s failingStore) Reserve(context.Context, string, string, string, time.Duration) (idempotency.Reservation, error) {
	return idempotency.Reservation{}, s.err
}

func (s failingStore) Renew(context.Context, string, string, time.Duration) error { return s.err }

func (s failingStore) Complete(context.Context, string, string, *idempotency.Record, time.Duration) error {
	return s.err
}

func (s failingStore) Release(context.Context, string, string) error { return s.err }

// completeFails wraps a Store and fails Complete with err.
type completeFails struct {
	idempotency.Store
	err error
}

func (s completeFails) Complete(context.Context, string, string, *idempotency.Record, time.Duration) error {
	return s.err
}

// fixedStore answers every Reserve with res.
type fixedStore struct {
	failingStore
	res idempotency.Reservation
}

func (s fixedStore) Reserve(context.Context, string, string, string, time.Duration) (idempotency.Reservation, error) {
	return s.res, nil
}

// hangingStore blocks every call until its context is done.
type hangingStore struct{}

func (hangingStore) Reserve(ctx context.Context, _, _, _ string, _ time.Duration) (idempotency.Reservation, error) {
	<-ctx.Done()
	return idempotency.Reservation{}, ctx.Err()
}

func (hangingStore) Renew(ctx context.Context, _, _ string, _ time.Duration) error {
	<-ctx.Done()
	return ctx.Err()
}

func (hangingStore) Complete(ctx context.Context, _, _ string, _ *idempotency.Record, _ time.Duration) error {
	<-ctx.Done()
	return ctx.Err()
}

func (hangingStore) Release(ctx context.Context, _, _ string) error {
	<-ctx.Done()
	return ctx.Err()
}
