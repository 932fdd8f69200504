package lockmap

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline/session"
)

func TestLockExpiresAtTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(0)
		ctx := context.Background()
		first, err := m.Lock(ctx, "a", 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		second, err := m.Lock(ctx, "a", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 30*time.Second {
			t.Errorf("waited %v for an abandoned lock, want exactly its TTL 30s", got)
		}
		if second.Fence <= first.Fence {
			t.Errorf("fence %d after %d, want larger", second.Fence, first.Fence)
		}
		if err := m.Unlock("a", first); !errors.Is(err, session.ErrLockLost) {
			t.Errorf("Unlock(expired token) = %v, want ErrLockLost", err)
		}
	})
}

func TestRefreshKeepsLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(0)
		ctx := context.Background()
		tok, _ := m.Lock(ctx, "a", 10*time.Second)
		for range 5 {
			time.Sleep(6 * time.Second)
			if err := m.Refresh("a", tok, 10*time.Second); err != nil {
				t.Fatalf("Refresh after 6s = %v", err)
			}
		}
		wctx, cancel := context.WithTimeout(ctx, 9*time.Second)
		defer cancel()
		if _, err := m.Lock(wctx, "a", time.Second); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Lock while refreshed = %v, want DeadlineExceeded", err)
		}
		time.Sleep(2 * time.Second) // 11s after the last refresh
		if err := m.Refresh("a", tok, time.Second); !errors.Is(err, session.ErrLockLost) {
			t.Errorf("Refresh after expiry = %v, want ErrLockLost", err)
		}
	})
}

func TestFIFOHandoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(100)
		ctx := context.Background()
		tok, _ := m.Lock(ctx, "a", time.Minute)
		if tok.Fence != 101 {
			t.Errorf("first fence = %d, want base+1 = 101", tok.Fence)
		}
		var (
			mu    sync.Mutex
			order []int
			wg    sync.WaitGroup
		)
		for i := range 5 {
			wg.Go(func() {
				tk, err := m.Lock(ctx, "a", time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				_ = m.Unlock("a", tk)
			})
			synctest.Wait() // waiter i is queued before i+1
		}
		_ = m.Unlock("a", tok)
		wg.Wait()
		for i, v := range order {
			if v != i {
				t.Fatalf("order = %v, want arrival order", order)
			}
		}
		if m.Len() != 0 {
			t.Errorf("Len() = %d after all released, want 0", m.Len())
		}
	})
}

func TestCancelledWaiterHoldsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(0)
		tok, _ := m.Lock(context.Background(), "a", time.Minute)
		ctx, cancel := context.WithCancelCause(context.Background())
		cause := errors.New("client gone")
		done := make(chan error, 1)
		go func() {
			_, err := m.Lock(ctx, "a", time.Minute)
			done <- err
		}()
		synctest.Wait()
		cancel(cause)
		if err := <-done; !errors.Is(err, cause) {
			t.Errorf("Lock after cancel = %v, want the cause", err)
		}
		_ = m.Unlock("a", tok)
		if m.Len() != 0 {
			t.Errorf("Len() = %d: the cancelled waiter got the lock", m.Len())
		}
	})
}

func TestPinDelaysExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(0)
		tok, _ := m.Lock(context.Background(), "a", time.Second)
		unpin, err := m.Pin("a", tok)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		if m.Len() != 1 {
			t.Fatal("pinned lock expired")
		}
		if _, err := m.Pin("a", tok); !errors.Is(err, session.ErrLockLost) {
			t.Errorf("Pin past TTL = %v, want ErrLockLost", err)
		}
		unpin()
		if m.Len() != 0 {
			t.Error("lock past its TTL not released at unpin")
		}
	})
}

func TestBadTTL(t *testing.T) {
	m := New(0)
	if _, err := m.Lock(context.Background(), "a", 0); !errors.Is(err, ErrBadTTL) {
		t.Errorf("Lock(ttl 0) = %v, want ErrBadTTL", err)
	}
}
