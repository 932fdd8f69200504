// Package sessiontest is the conformance suite of [session.Store]: every
// store runs it instead of copying tests.
//
//	func TestConformance(t *testing.T) {
//		sessiontest.Run(t, func(t *testing.T) session.Store { return newStore(t) })
//	}
//
// It checks the contract written on [session.Store]: data, expiry, the lock
// token guard on changes, lock exclusion, waiting with a deadline and with
// cancellation, refusal of foreign tokens, growing fences, expiry of a dead
// holder's lock, and concurrent increments through a [session.Manager]
// that must lose nothing. The timing tests use real time with short TTLs
// (100-400ms) and generous bounds, so a whole run takes a few seconds.
package sessiontest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/session"
)

// patience bounds every wait that should end; it is only reached when a
// store is broken.
const patience = 10 * time.Second

// Run runs the conformance suite. newStore returns an empty store each time
// it is called; it registers its own cleanup with t.
func Run(t *testing.T, newStore func(t *testing.T) session.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s session.Store)
	}{
		{"LoadMissing", testLoadMissing},
		{"SaveLoad", testSaveLoad},
		{"ChangesNeedTheLock", testChangesNeedTheLock},
		{"Touch", testTouch},
		{"Expiry", testExpiry},
		{"Delete", testDelete},
		{"LockExclusion", testLockExclusion},
		{"LockWaitTimeout", testLockWaitTimeout},
		{"CancelWhileWaiting", testCancelWhileWaiting},
		{"DoneContext", testDoneContext},
		{"Handoff", testHandoff},
		{"WrongTokenRefused", testWrongTokenRefused},
		{"Refresh", testRefresh},
		{"FenceIncreases", testFenceIncreases},
		{"HolderDies", testHolderDies},
		{"ConcurrentIncrements", testConcurrentIncrements},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

// ids returns n distinct well-formed session ids unique to this test.
func ids(t *testing.T, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		out[i] = ID(t)
	}
	return out
}

// ID returns a random id of the form the Manager issues, so that tests
// against a shared server (Redis) never collide.
func ID(t testing.TB) string {
	t.Helper()
	var b [24]byte
	_, _ = rand.Read(b[:])
	id, err := session.ParseID(base64.RawURLEncoding.EncodeToString(b[:]))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func lock(t *testing.T, s session.Store, id string, ttl time.Duration) session.LockToken {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	tok, err := s.Lock(ctx, id, ttl)
	if err != nil {
		t.Fatalf("Lock(%s) = %v", id, err)
	}
	return tok
}

func testLoadMissing(t *testing.T, s session.Store) {
	id := ids(t, 1)[0]
	if _, err := s.Load(t.Context(), id); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load(missing) error = %v, want ErrNotFound", err)
	}
}

func testSaveLoad(t *testing.T, s session.Store) {
	ctx := t.Context()
	id := ids(t, 1)[0]
	tok := lock(t, s, id, time.Minute)
	data := []byte(`{"a":1}`)
	if err := s.Save(ctx, id, tok, data, time.Minute); err != nil {
		t.Fatalf("Save = %v", err)
	}
	data[2] = 'X' // the store must have copied it
	got, err := s.Load(ctx, id)
	if err != nil || string(got) != `{"a":1}` {
		t.Fatalf("Load = %q, %v; want {\"a\":1}", got, err)
	}
	got[2] = 'Y' // and must hand out copies
	if err := s.Save(ctx, id, tok, []byte("second"), time.Minute); err != nil {
		t.Fatalf("second Save = %v", err)
	}
	if got, err := s.Load(ctx, id); err != nil || string(got) != "second" {
		t.Fatalf("Load after overwrite = %q, %v; want second", got, err)
	}
	if err := s.Unlock(ctx, id, tok); err != nil {
		t.Fatalf("Unlock = %v", err)
	}
	if got, err := s.Load(ctx, id); err != nil || string(got) != "second" {
		t.Fatalf("Load without the lock = %q, %v; want second", got, err)
	}
}

func testChangesNeedTheLock(t *testing.T, s session.Store) {
	ctx := t.Context()
	id := ids(t, 1)[0]
	for name, op := range changes(id, session.LockToken{}) {
		if err := op(ctx, s); !errors.Is(err, session.ErrLockLost) {
			t.Errorf("%s without a lock = %v, want ErrLockLost", name, err)
		}
	}
	tok := lock(t, s, id, time.Minute)
	if err := s.Save(ctx, id, tok, []byte("x"), time.Minute); err != nil {
		t.Fatalf("Save = %v", err)
	}
	if err := s.Unlock(ctx, id, tok); err != nil {
		t.Fatalf("Unlock = %v", err)
	}
	for name, op := range changes(id, tok) {
		if err := op(ctx, s); !errors.Is(err, session.ErrLockLost) {
			t.Errorf("%s with a released token = %v, want ErrLockLost", name, err)
		}
	}
	if got, err := s.Load(ctx, id); err != nil || string(got) != "x" {
		t.Errorf("Load = %q, %v; want x, untouched by refused changes", got, err)
	}
}

// changes returns every data change made with tok.
func changes(id string, tok session.LockToken) map[string]func(context.Context, session.Store) error {
	return map[string]func(context.Context, session.Store) error{
		"Save":   func(ctx context.Context, s session.Store) error { return s.Save(ctx, id, tok, []byte("bad"), time.Minute) },
		"Touch":  func(ctx context.Context, s session.Store) error { return s.Touch(ctx, id, tok, time.Minute) },
		"Delete": func(ctx context.Context, s session.Store) error { return s.Delete(ctx, id, tok) },
	}
}

func testTouch(t *testing.T, s session.Store) {
	ctx := t.Context()
	idv := ids(t, 2)
	id, sentinel := idv[0], idv[1]
	tok := lock(t, s, id, time.Minute)
	if err := s.Touch(ctx, id, tok, time.Minute); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Touch(no data) = %v, want ErrNotFound", err)
	}
	stok := lock(t, s, sentinel, time.Minute)
	if err := s.Save(ctx, id, tok, []byte("kept"), 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := s.Touch(ctx, id, tok, time.Hour); err != nil {
		t.Fatalf("Touch = %v", err)
	}
	// The sentinel is saved after id with the same short TTL: once it has
	// expired, id would have too, had Touch not extended it.
	if err := s.Save(ctx, sentinel, stok, []byte("gone"), 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitGone(t, s, sentinel)
	if got, err := s.Load(ctx, id); err != nil || string(got) != "kept" {
		t.Fatalf("Load after Touch = %q, %v; want kept (Touch must extend the expiry)", got, err)
	}
}

func testExpiry(t *testing.T, s session.Store) {
	ctx := t.Context()
	id := ids(t, 1)[0]
	tok := lock(t, s, id, time.Minute)
	if err := s.Save(ctx, id, tok, []byte("short"), 150*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitGone(t, s, id)
	if err := s.Touch(ctx, id, tok, time.Minute); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Touch(expired) = %v, want ErrNotFound", err)
	}
}

// waitGone polls until id's data has expired.
func waitGone(t *testing.T, s session.Store, id string) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		_, err := s.Load(t.Context(), id)
		if errors.Is(err, session.ErrNotFound) {
			return
		}
		if err != nil {
			t.Fatalf("Load = %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("data saved with a short TTL still there after %v", patience)
		}
		time.Sleep(20 * time.Millisecond) // polling for expiry, not asserting a duration
	}
}

func testDelete(t *testing.T, s session.Store) {
	ctx := t.Context()
	id := ids(t, 1)[0]
	tok := lock(t, s, id, time.Minute)
	if err := s.Delete(ctx, id, tok); err != nil {
		t.Fatalf("Delete(nothing) = %v, want nil", err)
	}
	if err := s.Save(ctx, id, tok, []byte("x"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, id, tok); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if _, err := s.Load(ctx, id); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load after Delete = %v, want ErrNotFound", err)
	}
	if err := s.Unlock(ctx, id, tok); err != nil {
		t.Fatalf("Unlock after Delete = %v", err)
	}
}

// waitLock tries to lock id for d and returns the error.
func waitLock(s session.Store, id string, d time.Duration) (session.LockToken, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Lock(ctx, id, time.Minute)
}

func testLockExclusion(t *testing.T, s session.Store) {
	ctx := t.Context()
	idv := ids(t, 2)
	tok := lock(t, s, idv[0], time.Minute)
	if _, err := waitLock(s, idv[0], 100*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Lock = %v, want DeadlineExceeded while held", err)
	}
	other := lock(t, s, idv[1], time.Minute) // another id is not blocked
	if err := s.Unlock(ctx, idv[1], other); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(ctx, idv[0], tok); err != nil {
		t.Fatal(err)
	}
	again := lock(t, s, idv[0], time.Minute)
	if err := s.Unlock(ctx, idv[0], again); err != nil {
		t.Fatal(err)
	}
}

func testLockWaitTimeout(t *testing.T, s session.Store) {
	id := ids(t, 1)[0]
	tok := lock(t, s, id, time.Minute)
	defer s.Unlock(context.Background(), id, tok)
	cause := errors.New("sessiontest: lock wait over")
	ctx, cancel := context.WithTimeoutCause(context.Background(), 100*time.Millisecond, cause)
	defer cancel()
	start := time.Now()
	_, err := s.Lock(ctx, id, time.Minute)
	if !errors.Is(err, cause) {
		t.Fatalf("Lock past its deadline = %v, want an error wrapping context.Cause", err)
	}
	if waited := time.Since(start); waited > patience/2 {
		t.Errorf("Lock returned %v after its 100ms deadline", waited)
	}
}

func testCancelWhileWaiting(t *testing.T, s session.Store) {
	id := ids(t, 1)[0]
	tok := lock(t, s, id, time.Minute)
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("sessiontest: client gone")
	done := make(chan error, 1)
	go func() {
		_, err := s.Lock(ctx, id, time.Minute)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // let it wait; correctness does not depend on it
	cancel(cause)
	select {
	case err := <-done:
		if !errors.Is(err, cause) {
			t.Fatalf("cancelled Lock = %v, want the cause", err)
		}
	case <-time.After(patience):
		t.Fatal("Lock did not return after its context was cancelled")
	}
	if _, err := waitLock(s, id, 100*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock = %v; the holder must still hold it after a waiter gave up", err)
	}
	if err := s.Unlock(context.Background(), id, tok); err != nil {
		t.Fatal(err)
	}
	// The cancelled waiter must not have been handed the lock.
	next, err := waitLock(s, id, patience)
	if err != nil {
		t.Fatalf("Lock after release = %v", err)
	}
	_ = s.Unlock(context.Background(), id, next)
}

func testDoneContext(t *testing.T, s session.Store) {
	id := ids(t, 1)[0]
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Lock(ctx, id, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock(done ctx) = %v, want context.Canceled", err)
	}
	tok := lock(t, s, id, time.Minute) // and it holds nothing
	_ = s.Unlock(context.Background(), id, tok)
}

func testHandoff(t *testing.T, s session.Store) {
	id := ids(t, 1)[0]
	tok := lock(t, s, id, time.Minute)
	got := make(chan session.LockToken, 1)
	errc := make(chan error, 1)
	go func() {
		tk, err := waitLock(s, id, patience)
		if err != nil {
			errc <- err
			return
		}
		got <- tk
	}()
	time.Sleep(50 * time.Millisecond)
	if err := s.Unlock(context.Background(), id, tok); err != nil {
		t.Fatal(err)
	}
	select {
	case tk := <-got:
		if tk.Fence <= tok.Fence {
			t.Errorf("waiter's fence %d <= holder's %d", tk.Fence, tok.Fence)
		}
		_ = s.Unlock(context.Background(), id, tk)
	case err := <-errc:
		t.Fatalf("waiter: %v", err)
	}
}

func testWrongTokenRefused(t *testing.T, s session.Store) {
	ctx := t.Context()
	id := ids(t, 1)[0]
	tok := lock(t, s, id, time.Minute)
	bad := []session.LockToken{
		{},
		{Fence: tok.Fence, Nonce: tok.Nonce + "x"},
		{Fence: tok.Fence + 1, Nonce: tok.Nonce},
		{Fence: tok.Fence - 1, Nonce: tok.Nonce},
	}
	for _, b := range bad {
		if err := s.Unlock(ctx, id, b); !errors.Is(err, session.ErrLockLost) {
			t.Errorf("Unlock(%v) by a non-holder = %v, want ErrLockLost", b, err)
		}
		if err := s.Refresh(ctx, id, b, time.Minute); !errors.Is(err, session.ErrLockLost) {
			t.Errorf("Refresh(%v) by a non-holder = %v, want ErrLockLost", b, err)
		}
	}
	if _, err := waitLock(s, id, 100*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock = %v; a refused Unlock must leave the lock held", err)
	}
	if err := s.Unlock(ctx, id, tok); err != nil {
		t.Fatalf("Unlock by the holder = %v", err)
	}
	if err := s.Unlock(ctx, id, tok); !errors.Is(err, session.ErrLockLost) {
		t.Errorf("second Unlock = %v, want ErrLockLost", err)
	}
}

func testRefresh(t *testing.T, s session.Store) {
	id := ids(t, 1)[0]
	const ttl = 400 * time.Millisecond
	tok := lock(t, s, id, ttl)
	stop := make(chan struct{})
	refreshed := make(chan error, 1)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				refreshed <- nil
				return
			case <-tick.C:
				if err := s.Refresh(context.Background(), id, tok, ttl); err != nil {
					refreshed <- err
					return
				}
			}
		}
	}()
	// Two and a half TTLs: without refreshes the lock would be free.
	_, err := waitLock(s, id, 5*ttl/2)
	close(stop)
	if rerr := <-refreshed; rerr != nil {
		t.Fatalf("Refresh = %v", rerr)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while the holder refreshes = %v, want DeadlineExceeded", err)
	}
	if err := s.Unlock(context.Background(), id, tok); err != nil {
		t.Fatalf("Unlock after refreshes = %v", err)
	}
}

func testFenceIncreases(t *testing.T, s session.Store) {
	ctx := t.Context()
	id := ids(t, 1)[0]
	var last uint64
	for i := range 5 {
		tok := lock(t, s, id, time.Minute)
		if i > 0 && tok.Fence <= last {
			t.Fatalf("grant %d: fence %d, previous %d; want increasing", i, tok.Fence, last)
		}
		last = tok.Fence
		if i == 2 { // with data stored too
			if err := s.Save(ctx, id, tok, []byte("x"), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Unlock(ctx, id, tok); err != nil {
			t.Fatal(err)
		}
	}
}

func testHolderDies(t *testing.T, s session.Store) {
	ctx := t.Context()
	id := ids(t, 1)[0]
	dead := lock(t, s, id, 200*time.Millisecond) // never refreshed, never unlocked
	if err := s.Save(ctx, id, dead, []byte("old"), time.Minute); err != nil {
		t.Fatal(err)
	}
	next, err := waitLock(s, id, patience)
	if err != nil {
		t.Fatalf("Lock after the holder died = %v, want the lock once its TTL passed", err)
	}
	if next.Fence <= dead.Fence {
		t.Errorf("fence %d after a dead holder's %d, want larger", next.Fence, dead.Fence)
	}
	if err := s.Save(ctx, id, next, []byte("new"), time.Minute); err != nil {
		t.Fatal(err)
	}
	// The old holder wakes up: everything it tries is refused.
	for name, op := range changes(id, dead) {
		if err := op(ctx, s); !errors.Is(err, session.ErrLockLost) {
			t.Errorf("%s by the expired holder = %v, want ErrLockLost", name, err)
		}
	}
	if err := s.Refresh(ctx, id, dead, time.Minute); !errors.Is(err, session.ErrLockLost) {
		t.Errorf("Refresh by the expired holder = %v, want ErrLockLost", err)
	}
	if err := s.Unlock(ctx, id, dead); !errors.Is(err, session.ErrLockLost) {
		t.Errorf("Unlock by the expired holder = %v, want ErrLockLost", err)
	}
	if got, err := s.Load(ctx, id); err != nil || string(got) != "new" {
		t.Errorf("Load = %q, %v; want the new holder's data", got, err)
	}
	if err := s.Unlock(ctx, id, next); err != nil {
		t.Errorf("Unlock by the new holder = %v", err)
	}
}

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
