package session_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/syncbuf"
	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/memstore"
)

// recStore wraps a store and records the operations that reach it, PHP's
// save handler test style ("Open", "Read", "Write", "Update"...). It fails
// the test if an id that ParseID rejects ever reaches it.
type recStore struct {
	session.Store
	t testing.TB

	mu   sync.Mutex // guards ops and ttls
	ops  []string
	ttls []time.Duration // of Save and Touch
}

func newRecStore(t testing.TB) *recStore {
	t.Helper()
	ms, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	return &recStore{Store: ms, t: t}
}

func (r *recStore) record(op, id string, ttl time.Duration) {
	if _, err := session.ParseID(id); err != nil {
		r.t.Errorf("store got an invalid id in %s: %v", op, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op)
	if ttl > 0 {
		r.ttls = append(r.ttls, ttl)
	}
}

// take returns the operations recorded since the last call.
func (r *recStore) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := r.ops
	r.ops = nil
	return ops
}

func (r *recStore) lastTTL() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ttls) == 0 {
		return 0
	}
	return r.ttls[len(r.ttls)-1]
}

func (r *recStore) Load(ctx context.Context, id string) ([]byte, error) {
	r.record("Load", id, 0)
	return r.Store.Load(ctx, id)
}

func (r *recStore) Save(ctx context.Context, id string, tok session.LockToken, data []byte, ttl time.Duration) error {
	r.record("Save", id, ttl)
	return r.Store.Save(ctx, id, tok, data, ttl)
}

func (r *recStore) Touch(ctx context.Context, id string, tok session.LockToken, ttl time.Duration) error {
	r.record("Touch", id, ttl)
	return r.Store.Touch(ctx, id, tok, ttl)
}

func (r *recStore) Delete(ctx context.Context, id string, tok session.LockToken) error {
	r.record("Delete", id, 0)
	return r.Store.Delete(ctx, id, tok)
}

func (r *recStore) Lock(ctx context.Context, id string, ttl time.Duration) (session.LockToken, error) {
	r.record("Lock", id, 0)
	return r.Store.Lock(ctx, id, ttl)
}

func (r *recStore) Unlock(ctx context.Context, id string, tok session.LockToken) error {
	r.record("Unlock", id, 0)
	return r.Store.Unlock(ctx, id, tok)
}

func wantOps(t *testing.T, r *recStore, want ...string) {
	t.Helper()
	if got := r.take(); !slices.Equal(got, want) {
		t.Errorf("store operations = %v, want %v", got, want)
	}
}

func newMemStore(t testing.TB) *memstore.Store {
	t.Helper()
	s, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newManager(t testing.TB, store session.Store, opts ...session.Option) *session.Manager {
	t.Helper()
	m, err := session.New(store, opts...)
	if err != nil {
		t.Fatalf("session.New = %v", err)
	}
	return m
}

// request returns a request carrying cookie (if any).
func request(cookie *http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	return r
}

// start starts the session of cookie (nil: none) and fails the test on error.
func start(t testing.TB, m *session.Manager, cookie *http.Cookie) (*session.Session, *httptest.ResponseRecorder) {
	t.Helper()
	rec := httptest.NewRecorder()
	s, err := m.Start(rec, request(cookie))
	if err != nil {
		t.Fatalf("Start = %v", err)
	}
	return s, rec
}

// sessionCookie returns the session cookie set in rec, failing if none.
func sessionCookie(t testing.TB, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range rec.Result().Cookies() {
		if c.Name == "lifeline_session" {
			return c
		}
	}
	t.Fatalf("no session cookie in %q", rec.Header().Values("Set-Cookie"))
	return nil
}

// logBuffer returns a logger writing to a buffer, for tests of warnings.
func logBuffer() (*slog.Logger, *syncbuf.Buffer) {
	var b syncbuf.Buffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

func httptestRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
