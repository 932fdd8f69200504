package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/memstore"
)

// newExampleManager returns a Manager on an in-memory store.
func newExampleManager(opts ...session.Option) *session.Manager {
	store, _ := memstore.New()
	m, err := session.New(store, opts...)
	if err != nil {
		panic(err)
	}
	return m
}

// withCookie returns a request carrying the session cookie that rec got.
func withCookie(rec *httptest.ResponseRecorder) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range rec.Result().Cookies() {
		r.AddCookie(c)
	}
	return r
}

func ExampleNew() {
	store, err := memstore.New()
	if err != nil {
		panic(err)
	}
	m, err := session.New(store,
		session.WithCookieName("sid"),
		session.WithIdleTimeout(30*time.Minute),
		session.WithLockWait(5*time.Second), // PHP would wait forever
	)
	if err != nil {
		panic(err)
	}
	rec := httptest.NewRecorder()
	s, _ := m.Start(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	_ = s.WriteClose(context.Background())
	c := rec.Result().Cookies()[0]
	fmt.Println(c.Name, c.HttpOnly, c.SameSite == http.SameSiteLaxMode)
	// Output: sid true true
}

// ExampleManager_Start is PHP's session_start, with the lock released at
// Finish: the client's next page never waits for the background work.
func ExampleManager_Start() {
	m := newExampleManager()
	pool, _ := lifeline.NewPool()
	done := make(chan struct{})
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		s, err := m.Start(w, r)
		if errors.Is(err, session.ErrLockTimeout) {
			http.Error(w, "busy, try again", http.StatusServiceUnavailable)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		visits, _, _ := session.Value[int](s, "visits")
		_ = s.Set("visits", visits+1)
		fmt.Fprintf(w, "visit %d", visits+1)

		rn, _ := lifeline.FromContext(r.Context())
		_ = rn.Finish() // writes and unlocks the session, then sends the response
		fmt.Println("active after Finish:", s.Active())
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	<-done
	fmt.Println(string(body))
	// Output:
	// active after Finish: false
	// visit 1
}

// ExampleManager_StartReadOnly is PHP's read_and_close: it never waits for
// the lock, even while another request holds the session.
func ExampleManager_StartReadOnly() {
	m := newExampleManager()
	rec := httptest.NewRecorder()
	holder, _ := m.Start(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	_ = holder.Set("user", "ann")
	_ = holder.WriteClose(context.Background())

	busy, _ := m.Start(httptest.NewRecorder(), withCookie(rec)) // holds the lock
	defer busy.Abort(context.Background())

	s, err := m.StartReadOnly(withCookie(rec))
	if err != nil {
		panic(err)
	}
	user, _, _ := session.Value[string](s, "user")
	fmt.Println(user, s.Active(), errors.Is(s.Set("user", "bob"), session.ErrSessionClosed))
	// Output: ann false true
}

// ExampleManager_Handler starts the session of every request outside a
// Lifeline run and writes it when the handler returns.
func ExampleManager_Handler() {
	m := newExampleManager()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		n, _, _ := session.Value[int](s, "n")
		_ = s.Set("n", n+1)
		fmt.Fprintln(w, n+1)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	again := httptest.NewRecorder()
	h.ServeHTTP(again, withCookie(rec))
	fmt.Print(rec.Body.String(), again.Body.String())
	// Output:
	// 1
	// 2
}

func ExampleFromContext() {
	m := newExampleManager()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := session.FromContext(r.Context())
		fmt.Println(ok, s.IsNew())
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	// Output: true true
}

// ExampleSession_WriteClose is the seed's fix: close the session before the
// slow work, so that the client's other requests do not wait for it.
func ExampleSession_WriteClose() {
	m := newExampleManager()
	rec := httptest.NewRecorder()
	s, _ := m.Start(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	_ = s.Set("report", "queued")
	if err := s.WriteClose(context.Background()); err != nil {
		panic(err)
	}
	// ... slow work: another request of the same client gets the session now.
	other, _ := m.Start(httptest.NewRecorder(), withCookie(rec))
	report, _, _ := session.Value[string](other, "report")
	_ = other.WriteClose(context.Background())
	fmt.Println(report, errors.Is(s.Set("report", "done"), session.ErrSessionClosed))
	// Output: queued true
}

func ExampleSession_Abort() {
	m := newExampleManager()
	rec := httptest.NewRecorder()
	s, _ := m.Start(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	_ = s.Set("n", 1)
	_ = s.WriteClose(context.Background())

	s, _ = m.Start(httptest.NewRecorder(), withCookie(rec))
	_ = s.Set("n", 99)
	_ = s.Abort(context.Background()) // drop the change, release the lock

	s, _ = m.StartReadOnly(withCookie(rec))
	n, _, _ := session.Value[int](s, "n")
	fmt.Println(n)
	// Output: 1
}

func ExampleSession_Reset() {
	m := newExampleManager()
	rec := httptest.NewRecorder()
	s, _ := m.Start(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	_ = s.Set("n", 1)
	_ = s.WriteClose(context.Background())

	s, _ = m.Start(httptest.NewRecorder(), withCookie(rec))
	_ = s.Set("n", 2)
	_ = s.Reset(context.Background())
	n, _, _ := session.Value[int](s, "n")
	fmt.Println(n, s.Active())
	_ = s.WriteClose(context.Background())
	// Output: 1 true
}

// ExampleSession_Regenerate changes the id at login, against fixation.
func ExampleSession_Regenerate() {
	m := newExampleManager()
	rec := httptest.NewRecorder()
	s, _ := m.Start(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	before := s.ID()
	_ = s.Set("user", "ann")
	if err := s.Regenerate(context.Background(), true); err != nil {
		panic(err)
	}
	_ = s.WriteClose(context.Background())
	cookies := rec.Result().Cookies()
	fmt.Println(s.ID() != before, len(cookies), cookies[0].Value == s.ID())
	// Output: true 1 true
}

func ExampleSession_Destroy() {
	m := newExampleManager()
	rec := httptest.NewRecorder()
	s, _ := m.Start(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	_ = s.WriteClose(context.Background())

	out := httptest.NewRecorder()
	s, _ = m.Start(out, withCookie(rec))
	_ = s.Destroy(context.Background())
	fmt.Println(out.Result().Cookies()[0].MaxAge < 0)
	// Output: true
}

// ExampleSession_KeepAfterFinish keeps the session through Finish, as
// PHP-FPM does; it is written at the end of the run.
func ExampleSession_KeepAfterFinish() {
	m := newExampleManager()
	pool, _ := lifeline.NewPool()
	done := make(chan struct{})
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		s, _ := m.Start(w, r)
		s.KeepAfterFinish()
		rn, _ := lifeline.FromContext(r.Context())
		_ = rn.Finish()
		fmt.Println("after Finish:", s.Set("status", "converted") == nil)
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	<-done
	// Output: after Finish: true
}

func ExampleSession_Get() {
	m := newExampleManager()
	s, _ := m.Start(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	defer s.Abort(context.Background())
	_ = s.Set("cart", []string{"tea", "milk"})
	var cart []string
	ok, err := s.Get("cart", &cart)
	fmt.Println(cart, ok, err)
	var wrong int
	_, err = s.Get("cart", &wrong)
	fmt.Println(errors.Is(err, session.ErrCorrupt))
	// Output:
	// [tea milk] true <nil>
	// true
}

func ExampleValue() {
	m := newExampleManager()
	s, _ := m.Start(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	defer s.Abort(context.Background())
	_ = s.Set("visits", 3)
	visits, ok, err := session.Value[int](s, "visits")
	fmt.Println(visits, ok, err)
	// Output: 3 true <nil>
}

func ExampleSession_Keys() {
	m := newExampleManager()
	s, _ := m.Start(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	defer s.Abort(context.Background())
	_ = s.Set("b", 1)
	_ = s.Set("a", 2)
	_ = s.Delete("b")
	fmt.Println(s.Keys())
	// Output: [a]
}

func ExampleParseID() {
	_, err := session.ParseID("../../etc/passwd")
	fmt.Println(errors.Is(err, session.ErrInvalidID))
	id, err := session.ParseID("q3yRk2bZ0d_mX8-vT1pLw4sHnC6eJfAa")
	fmt.Println(id, err)
	// Output:
	// true
	// q3yRk2bZ0d_mX8-vT1pLw4sHnC6eJfAa <nil>
}

func ExampleLockToken_String() {
	fmt.Println(session.LockToken{Fence: 42, Nonce: "9f2c"})
	// Output: 42:9f2c
}

// Moving a PHP application's visitors over: their PHPSESSID cookies keep
// working. The first request of each visitor asks the old system for its
// session (here a map standing for PHP's session store, its values already
// decoded); later requests read it from the new store. Ids that neither
// system knows get a new Lifeline session, as in strict mode.
func ExampleWithMigration() {
	php := map[string]map[string]any{
		"k3v9q1m7a2c8t0r5u6b4n1h2j9": {"user": "ada"},
	}
	m := newExampleManager(
		session.WithCookieName("PHPSESSID"),
		session.WithMigration(session.PHPSessionID, func(ctx context.Context, id string) (map[string]any, error) {
			return php[id], nil // nil: PHP does not know id
		}),
	)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		user, ok, _ := session.Value[string](s, "user")
		fmt.Printf("user %q (known: %v), PHP's id kept: %v\n", user, ok, len(s.ID()) == 26)
	}))
	for _, id := range []string{"k3v9q1m7a2c8t0r5u6b4n1h2j9", "zzzzzzzzzzzzzzzzzzzzzzzzzz"} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: "PHPSESSID", Value: id})
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	// Output:
	// user "ada" (known: true), PHP's id kept: true
	// user "" (known: false), PHP's id kept: false
}
