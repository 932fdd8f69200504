package sessiontest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/lifeline-go/lifeline/session"
)

// testConcurrentIncrements runs read-modify-write cycles on one session
// from many goroutines through a Manager: PHP's lock must serialise them.
func testConcurrentIncrements(t *testing.T, s session.Store) {
	m, err := session.New(s, session.WithLockWait(patience))
	if err != nil {
		t.Fatal(err)
	}
	cookie := NewSession(t, m, func(s *session.Session) error { return s.Set("n", 0) })
	const workers, each = 4, 25
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if err := Increment(m, cookie, "n"); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	n := Read(t, m, cookie, "n")
	if n != workers*each {
		t.Fatalf("n = %d after %d increments: %d lost", n, workers*each, workers*each-n)
	}
}

// NewSession starts a new session on m, lets init fill it, writes it, and
// returns its cookie.
func NewSession(t testing.TB, m *session.Manager, init func(*session.Session) error) *http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	sess, err := m.Start(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if err != nil {
		t.Fatalf("Start = %v", err)
	}
	if err := init(sess); err != nil {
		t.Fatal(err)
	}
	if err := sess.WriteClose(context.Background()); err != nil {
		t.Fatalf("WriteClose = %v", err)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("new session set %d cookies, want 1", len(cookies))
	}
	return cookies[0]
}

// Increment adds one to the int stored under key in the session of cookie,
// as a request would: Start, read, write, WriteClose.
func Increment(m *session.Manager, cookie *http.Cookie, key string) error {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(cookie)
	sess, err := m.Start(httptest.NewRecorder(), req)
	if err != nil {
		return err
	}
	if sess.ID() != cookie.Value {
		_ = sess.Abort(context.Background())
		return fmt.Errorf("sessiontest: Start issued a new session; the store lost %s", cookie.Value)
	}
	n, _, err := session.Value[int](sess, key)
	if err == nil {
		err = sess.Set(key, n+1)
	}
	if err != nil {
		_ = sess.Abort(context.Background())
		return err
	}
	return sess.WriteClose(context.Background())
}

// Read returns the int stored under key in the session of cookie, without
// locking it.
func Read(t testing.TB, m *session.Manager, cookie *http.Cookie, key string) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(cookie)
	sess, err := m.StartReadOnly(req)
	if err != nil {
		t.Fatalf("StartReadOnly = %v", err)
	}
	n, ok, err := session.Value[int](sess, key)
	if err != nil || !ok {
		t.Fatalf("Value(%q) = %d, %v, %v", key, n, ok, err)
	}
	return n
}
