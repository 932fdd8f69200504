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
		"Save": func(ctx context.Context, s session.Store) error {
			return s.Save(ctx, id, tok, []byte("bad"), time.Minute)
		},
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
