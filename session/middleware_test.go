package session_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline/session"
)

// TestHandlerOutsideRun: without a Lifeline run, the middleware writes and
// unlocks the session when the handler returns, and also when it panics.
func TestHandlerOutsideRun(t *testing.T) {
	m := newManager(t, newMemStore(t))
	boom := errors.New("boom")
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := session.FromContext(r.Context())
		if !ok {
			t.Fatal("no session in the request context")
		}
		n, _, _ := session.Value[int](s, "n")
		_ = s.Set("n", n+1)
		if r.URL.Query().Has("panic") {
			panic(boom)
		}
	}))
	rec := httptestRecorder()
	h.ServeHTTP(rec, request(nil))
	cookie := sessionCookie(t, rec)
	h.ServeHTTP(httptestRecorder(), request(cookie))

	r := request(cookie)
	r.URL.RawQuery = "panic"
	func() {
		defer func() {
			if v := recover(); v != boom {
				t.Errorf("recovered %v, want the handler's panic", v)
			}
		}()
		h.ServeHTTP(httptestRecorder(), r)
	}()

	s, err := m.Start(httptestRecorder(), request(cookie)) // free again
	if err != nil {
		t.Fatal(err)
	}
	if n, _, _ := session.Value[int](s, "n"); n != 3 {
		t.Errorf("n = %d after three requests (one panicked), want 3", n)
	}
	_ = s.Abort(context.Background())
}

func TestHandlerErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(t)
		holderM := newManager(t, store)
		holder, rec := start(t, holderM, nil)
		defer holder.Abort(context.Background())
		cookie := sessionCookie(t, rec)
		next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("next ran without a session") })

		m := newManager(t, store, session.WithLockWait(time.Second))
		rec = httptestRecorder()
		m.Handler(next).ServeHTTP(rec, request(cookie))
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
			t.Errorf("default answer to a busy session = %d, Retry-After %q; want 503, 1", rec.Code, rec.Header().Get("Retry-After"))
		}

		var got error
		m = newManager(t, store, session.WithLockWait(time.Second), session.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			w.WriteHeader(http.StatusConflict)
		}))
		rec = httptestRecorder()
		m.Handler(next).ServeHTTP(rec, request(cookie))
		if rec.Code != http.StatusConflict || !errors.Is(got, session.ErrLockTimeout) {
			t.Errorf("custom error handler: %d, %v; want 409, ErrLockTimeout", rec.Code, got)
		}
	})
}
