package session_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/session"
)

func TestNewValidates(t *testing.T) {
	store := newMemStore(t)
	tests := []struct {
		name string
		opt  session.Option
	}{
		{"cookie name", session.WithCookieName("bad name;")},
		{"lifetime", session.WithLifetime(0)},
		{"idle timeout", session.WithIdleTimeout(-time.Second)},
		{"lock wait", session.WithLockWait(-1)},
		{"lock TTL", session.WithLockTTL(time.Millisecond)},
		{"max lock hold below TTL", session.WithMaxLockHold(time.Second)},
		{"store timeout", session.WithStoreTimeout(0)},
		{"SameSite=None without Secure", session.WithSameSite(http.SameSiteNoneMode)},
		{"nil error handler", session.WithErrorHandler(nil)},
		{"nil option", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := session.New(store, tt.opt); !errors.Is(err, session.ErrInvalidOption) {
				t.Errorf("New(%s) = %v, want ErrInvalidOption", tt.name, err)
			}
		})
	}
	if _, err := session.New(store, session.WithLockWait(time.Second), nil); err == nil || !strings.Contains(err.Error(), "option 2 is nil") {
		t.Errorf("New(store, ok, nil) = %v, want an error naming option 2", err)
	}
	if _, err := session.New(nil); !errors.Is(err, session.ErrInvalidOption) {
		t.Errorf("New(nil store) = %v, want ErrInvalidOption", err)
	}
	if _, err := session.New(store, session.WithSameSite(http.SameSiteNoneMode), session.WithSecure(true)); err != nil {
		t.Errorf("New(SameSite=None, Secure) = %v", err)
	}
}

func TestCookie(t *testing.T) {
	tests := []struct {
		name       string
		opts       []session.Option
		tls        bool
		secure     bool
		persistent bool
		sameSite   http.SameSite
	}{
		{name: "default", sameSite: http.SameSiteLaxMode},
		{name: "TLS request", tls: true, secure: true, sameSite: http.SameSiteLaxMode},
		{name: "always secure", opts: []session.Option{session.WithSecure(true)}, secure: true, sameSite: http.SameSiteLaxMode},
		{name: "strict", opts: []session.Option{session.WithSameSite(http.SameSiteStrictMode)}, sameSite: http.SameSiteStrictMode},
		{name: "persistent", opts: []session.Option{session.WithPersistentCookie(true)}, persistent: true, sameSite: http.SameSiteLaxMode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newManager(t, newMemStore(t), tt.opts...)
			r := request(nil)
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			rec := httptestRecorder()
			s, err := m.Start(rec, r)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Abort(context.Background())
			c := sessionCookie(t, rec)
			if c.Value != s.ID() || !c.HttpOnly || c.Secure != tt.secure || c.SameSite != tt.sameSite || c.Path != "/" {
				t.Errorf("cookie = %+v; want value=ID, HttpOnly, Secure=%v, SameSite=%v, Path=/", c, tt.secure, tt.sameSite)
			}
			if persistent := c.MaxAge > 0 && !c.Expires.IsZero(); persistent != tt.persistent {
				t.Errorf("cookie MaxAge=%d Expires=%v, want persistent=%v", c.MaxAge, c.Expires, tt.persistent)
			}
		})
	}
}

func TestStartNewAndExisting(t *testing.T) {
	store := newRecStore(t)
	m := newManager(t, store)
	ctx := context.Background()

	s, rec := start(t, m, nil)
	if !s.IsNew() || !s.Active() {
		t.Errorf("new session: IsNew=%v Active=%v, want both", s.IsNew(), s.Active())
	}
	if _, err := session.ParseID(s.ID()); err != nil {
		t.Errorf("new id %q: %v", s.ID(), err)
	}
	if err := s.Set("user", "ann"); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteClose(ctx); err != nil {
		t.Fatal(err)
	}
	wantOps(t, store, "Lock", "Save", "Unlock")
	cookie := sessionCookie(t, rec)

	s2, rec2 := start(t, m, cookie)
	if s2.ID() != cookie.Value || s2.IsNew() {
		t.Errorf("Start with the cookie: ID=%q IsNew=%v, want the same id, not new", s2.ID(), s2.IsNew())
	}
	if user, ok, err := session.Value[string](s2, "user"); user != "ann" || !ok || err != nil {
		t.Errorf("Value(user) = %q, %v, %v; want ann", user, ok, err)
	}
	if got := rec2.Header().Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("existing session set cookies %q, want none", got)
	}
	_ = s2.WriteClose(ctx)
	wantOps(t, store, "Lock", "Load", "Touch", "Unlock")
}

// TestStrictMode: an id the store does not know is never adopted (session
// fixation), and an id that is not well formed never reaches the store.
func TestStrictMode(t *testing.T) {
	store := newRecStore(t)
	m := newManager(t, store)
	unknown := &http.Cookie{Name: "lifeline_session", Value: strings.Repeat("A", 32)}
	s, rec := start(t, m, unknown)
	if s.ID() == unknown.Value || !s.IsNew() {
		t.Fatalf("Start adopted the unknown id %q", unknown.Value)
	}
	if c := sessionCookie(t, rec); c.Value != s.ID() {
		t.Errorf("cookie %q, want the new id %q", c.Value, s.ID())
	}
	wantOps(t, store, "Lock", "Load", "Unlock", "Lock")
	_ = s.Abort(context.Background())
	store.take()

	for _, bad := range []string{"x", strings.Repeat("A", 31) + "}", "../../etc/passwd", strings.Repeat("A", 4096)} {
		s, _ := start(t, m, &http.Cookie{Name: "lifeline_session", Value: bad})
		if s.ID() == bad {
			t.Errorf("Start adopted the malformed id %q", bad)
		}
		wantOps(t, store, "Lock") // only the new id's lock (recStore checks every id)
		_ = s.Abort(context.Background())
		store.take()
	}
}

func TestClosedSession(t *testing.T) {
	m := newManager(t, newMemStore(t))
	ctx := context.Background()
	s, _ := start(t, m, nil)
	_ = s.Set("a", 1)
	if err := s.WriteClose(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Active() {
		t.Error("Active after WriteClose")
	}
	for name, err := range map[string]error{
		"Set":        s.Set("b", 2),
		"Delete":     s.Delete("a"),
		"Clear":      s.Clear(),
		"WriteClose": s.WriteClose(ctx),
		"Abort":      s.Abort(ctx),
		"Destroy":    s.Destroy(ctx),
		"Reset":      s.Reset(ctx),
		"Regenerate": s.Regenerate(ctx, true),
	} {
		if !errors.Is(err, session.ErrSessionClosed) {
			t.Errorf("%s after WriteClose = %v, want ErrSessionClosed", name, err)
		}
	}
	if a, ok, err := session.Value[int](s, "a"); a != 1 || !ok || err != nil {
		t.Errorf("Value after WriteClose = %d, %v, %v; want the loaded 1", a, ok, err)
	}
}

func TestValues(t *testing.T) {
	m := newManager(t, newMemStore(t))
	s, _ := start(t, m, nil)
	defer s.Abort(context.Background())
	type cart struct {
		Items []string `json:"items"`
	}
	_ = s.Set("cart", cart{Items: []string{"tea"}})
	_ = s.Set("n", 42)
	_ = s.Set("gone", true)
	_ = s.Delete("gone")
	if got := s.Keys(); strings.Join(got, ",") != "cart,n" {
		t.Errorf("Keys() = %v, want [cart n]", got)
	}
	if c, ok, err := session.Value[cart](s, "cart"); !ok || err != nil || c.Items[0] != "tea" {
		t.Errorf("Value[cart] = %+v, %v, %v", c, ok, err)
	}
	if _, ok, err := session.Value[int](s, "missing"); ok || err != nil {
		t.Errorf("Value(missing) ok=%v err=%v, want false, nil", ok, err)
	}
	if _, _, err := session.Value[string](s, "n"); !errors.Is(err, session.ErrCorrupt) {
		t.Errorf("Value[string] of an int = %v, want ErrCorrupt", err)
	}
	var notPointer int
	if _, err := s.Get("n", notPointer); err == nil || errors.Is(err, session.ErrCorrupt) {
		t.Errorf("Get into a non-pointer = %v, want a usage error, not ErrCorrupt", err)
	}
	if err := s.Set("ch", make(chan int)); err == nil || errors.Is(err, session.ErrSessionClosed) {
		t.Errorf("Set(chan) = %v, want an encoding error", err)
	}
	if err := s.Clear(); err != nil || len(s.Keys()) != 0 {
		t.Errorf("Clear = %v, Keys = %v", err, s.Keys())
	}
}

func TestAbortAndReset(t *testing.T) {
	store := newRecStore(t)
	m := newManager(t, store)
	ctx := context.Background()
	s, rec := start(t, m, nil)
	_ = s.Set("n", 1)
	_ = s.WriteClose(ctx)
	cookie := sessionCookie(t, rec)

	s, _ = start(t, m, cookie)
	_ = s.Set("n", 2)
	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := session.Value[int](s, "n"); n != 1 {
		t.Errorf("after Reset n = %d, want the stored 1", n)
	}
	_ = s.Set("n", 3)
	store.take()
	if err := s.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	wantOps(t, store, "Unlock") // PHP's session_abort: no write
	s, _ = start(t, m, cookie)
	if n, _, _ := session.Value[int](s, "n"); n != 1 {
		t.Errorf("after Abort n = %d, want 1", n)
	}
	_ = s.Abort(ctx)
}

func TestRegenerate(t *testing.T) {
	for _, deleteOld := range []bool{false, true} {
		name := map[bool]string{false: "keep old", true: "delete old"}[deleteOld]
		t.Run(name, func(t *testing.T) {
			m := newManager(t, newMemStore(t))
			ctx := context.Background()
			s, rec := start(t, m, nil)
			_ = s.Set("user", "ann")
			_ = s.WriteClose(ctx)
			old := sessionCookie(t, rec)

			s, rec = start(t, m, old)
			_ = s.Set("role", "admin")
			if err := s.Regenerate(ctx, deleteOld); err != nil {
				t.Fatal(err)
			}
			if s.ID() == old.Value || !s.Active() {
				t.Fatalf("after Regenerate ID=%q Active=%v", s.ID(), s.Active())
			}
			if got := rec.Header().Values("Set-Cookie"); len(got) != 1 || !strings.Contains(got[0], s.ID()) {
				t.Errorf("Set-Cookie = %q, want one cookie with the new id", got)
			}
			_ = s.WriteClose(ctx)
			fresh := sessionCookie(t, rec)

			s2, _ := start(t, m, fresh)
			if role, _, _ := session.Value[string](s2, "role"); role != "admin" || s2.ID() != fresh.Value {
				t.Errorf("new id: role=%q id=%q; want the session under the new id", role, s2.ID())
			}
			_ = s2.Abort(ctx)

			s3, _ := start(t, m, old)
			if adopted := s3.ID() == old.Value; adopted == deleteOld {
				t.Errorf("old id adopted=%v with deleteOld=%v", adopted, deleteOld)
			}
			_ = s3.Abort(ctx)
		})
	}
}

func TestDestroy(t *testing.T) {
	m := newManager(t, newMemStore(t))
	ctx := context.Background()
	s, rec := start(t, m, nil)
	_ = s.Set("user", "ann")
	_ = s.WriteClose(ctx)
	cookie := sessionCookie(t, rec)

	s, rec = start(t, m, cookie)
	if err := s.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if c := sessionCookie(t, rec); c.MaxAge >= 0 {
		t.Errorf("cookie after Destroy = %+v, want one that deletes it (Max-Age<0)", c)
	}
	if user, _, _ := session.Value[string](s, "user"); user != "ann" {
		t.Errorf("values after Destroy = %q, want them still readable", user)
	}
	s2, _ := start(t, m, cookie)
	if s2.ID() == cookie.Value {
		t.Error("destroyed id adopted again")
	}
	_ = s2.Abort(ctx)
}

// TestCorruptRecord: an undecodable record is an error matching ErrCorrupt
// (not a panic, not a silent empty session), and is destroyed as PHP does,
// so the next request starts afresh.
func TestCorruptRecord(t *testing.T) {
	store := newMemStore(t)
	m := newManager(t, store)
	ctx := context.Background()
	s, rec := start(t, m, nil)
	_ = s.WriteClose(ctx)
	cookie := sessionCookie(t, rec)
	tok, _ := store.Lock(ctx, cookie.Value, time.Minute)
	_ = store.Save(ctx, cookie.Value, tok, []byte("Blah|s:12:\"Hello World!\";"), time.Minute)
	_ = store.Unlock(ctx, cookie.Value, tok)

	if _, err := m.StartReadOnly(request(cookie)); !errors.Is(err, session.ErrCorrupt) {
		t.Errorf("StartReadOnly(corrupt) = %v, want ErrCorrupt", err)
	}
	if _, err := m.Start(httptestRecorder(), request(cookie)); !errors.Is(err, session.ErrCorrupt) {
		t.Fatalf("Start(corrupt) = %v, want ErrCorrupt", err)
	}
	if _, err := store.Load(ctx, cookie.Value); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("corrupt record still stored: %v", err)
	}
	s, _ = start(t, m, cookie)
	if !s.IsNew() {
		t.Error("after a corrupt record, want a new session")
	}
	_ = s.Abort(ctx)
}

func TestLazyWriteOff(t *testing.T) {
	store := newRecStore(t)
	m := newManager(t, store, session.WithLazyWrite(false))
	s, rec := start(t, m, nil)
	_ = s.WriteClose(context.Background())
	s, _ = start(t, m, sessionCookie(t, rec))
	store.take()
	_ = s.WriteClose(context.Background())
	wantOps(t, store, "Save", "Unlock")
}

func TestStartReadOnly(t *testing.T) {
	store := newRecStore(t)
	m := newManager(t, store)
	ctx := context.Background()
	s, rec := start(t, m, nil)
	_ = s.Set("n", 1)
	_ = s.WriteClose(ctx)
	cookie := sessionCookie(t, rec)

	holder, _ := start(t, m, cookie) // holds the lock
	_ = holder.Set("n", 2)
	store.take()
	ro, err := m.StartReadOnly(request(cookie))
	if err != nil {
		t.Fatal(err)
	}
	wantOps(t, store, "Load") // no lock: it cannot wait
	if n, _, _ := session.Value[int](ro, "n"); n != 1 || ro.Active() || ro.ID() != cookie.Value {
		t.Errorf("read-only: n=%d Active=%v ID=%q; want the saved 1, closed, same id", n, ro.Active(), ro.ID())
	}
	if err := ro.Set("n", 3); !errors.Is(err, session.ErrSessionClosed) {
		t.Errorf("Set on a read-only session = %v, want ErrSessionClosed", err)
	}
	_ = holder.WriteClose(ctx)

	empty, err := m.StartReadOnly(request(nil))
	if err != nil || empty.ID() != "" || len(empty.Keys()) != 0 || empty.Active() {
		t.Errorf("read-only without a session = %v, %q, %v", err, empty.ID(), empty.Keys())
	}
}

func TestStartOnce(t *testing.T) {
	m := newManager(t, newMemStore(t))
	var first, second *session.Session
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first, _ = session.FromContext(r.Context())
		var err error
		second, err = m.Start(w, r) // PHP: "a session is already active", ignored
		if err != nil {
			t.Error(err)
		}
	}))
	h.ServeHTTP(httptestRecorder(), request(nil))
	if first == nil || first != second {
		t.Errorf("Start under Handler returned %p, want the active session %p", second, first)
	}
}
