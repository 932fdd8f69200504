package sessiontest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/session"
)

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
