package session_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/syncbuf"
	"github.com/lifeline-go/lifeline/session"
)

// redisAddr is what a failing store's error names: it must reach the log,
// never the client.
const redisAddr = "10.20.30.40:6379"

var errIDBody = regexp.MustCompile(`^(.+) \(id ([0-9a-f]{16})\)\n$`)

// downStore is a memstore whose calls fail, as a Redis store's do when the
// server is down, once down is set: lock and load (failStart) or save and
// touch (failWrite).
type downStore struct {
	session.Store
	failStart, failWrite atomic.Bool
}

func (d *downStore) err(op string) error {
	return fmt.Errorf("redisstore: %s: dial tcp %s: connect: connection refused: %w", op, redisAddr, session.ErrStoreUnavailable)
}

func (d *downStore) Load(ctx context.Context, id string) ([]byte, error) {
	if d.failStart.Load() {
		return nil, d.err("load")
	}
	return d.Store.Load(ctx, id)
}

func (d *downStore) Lock(ctx context.Context, id string, ttl time.Duration) (session.LockToken, error) {
	if d.failStart.Load() {
		return session.LockToken{}, d.err("lock")
	}
	return d.Store.Lock(ctx, id, ttl)
}

func (d *downStore) Save(ctx context.Context, id string, tok session.LockToken, data []byte, ttl time.Duration) error {
	if d.failWrite.Load() {
		return d.err("save")
	}
	return d.Store.Save(ctx, id, tok, data, ttl)
}

func (d *downStore) Touch(ctx context.Context, id string, tok session.LockToken, ttl time.Duration) error {
	if d.failWrite.Load() {
		return d.err("touch")
	}
	return d.Store.Touch(ctx, id, tok, ttl)
}

// wantErrorAnswer checks that body is "msg (id ID)" with no internal text,
// and that the log has the id together with the store's address.
func wantErrorAnswer(t *testing.T, body, msg string, logs *syncbuf.Buffer) {
	t.Helper()
	m := errIDBody.FindStringSubmatch(body)
	if m == nil || m[1] != msg {
		t.Fatalf("body %q, want %q and an id", body, msg+" (id ...)")
	}
	if strings.Contains(body, redisAddr) || strings.Contains(body, "redisstore") {
		t.Errorf("body %q shows the store's error", body)
	}
	var line string
	for l := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(l, "id="+m[2]) {
			line = l
		}
	}
	if !strings.Contains(line, redisAddr) {
		t.Errorf("no log line with id %s and the store's error; log:\n%s", m[2], logs)
	}
}

// TestHandlerStoreDown: when the store is down, the middleware's default
// answer is 503 with Retry-After, a short message and an id; the store's
// error text (a Redis address) is in the log only.
func TestHandlerStoreDown(t *testing.T) {
	store := &downStore{Store: newMemStore(t)}
	log, logs := logBuffer()
	m := newManager(t, store, session.WithLogger(log))
	h := m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("next ran without a session") }))

	store.failStart.Store(true)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, request(nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("answer %d, Retry-After %q; want 503, 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	wantErrorAnswer(t, rec.Body.String(), "session store unavailable; try again", logs)
}

// TestRunSaveStoreDown: a session that cannot be saved at the end of a
// Lifeline run replaces the unsent answer with a 503 that carries an id,
// not the store's error.
func TestRunSaveStoreDown(t *testing.T) {
	store := &downStore{Store: newMemStore(t)}
	log, logs := logBuffer()
	m := newManager(t, store, session.WithLogger(log))
	pool, err := lifeline.NewPool()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := m.Start(w, r)
		if err != nil {
			t.Errorf("Start = %v", err)
			return
		}
		_ = s.Set("n", 1)
		store.failWrite.Store(true)
		io.WriteString(w, "saved, says the handler")
	})))
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = pool.Shutdown(ctx)
	})
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", resp.StatusCode)
	}
	wantErrorAnswer(t, string(body), "session could not be saved; try again", logs)
}
