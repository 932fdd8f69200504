package session_test

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline/session"
)

// TestLockWaitTimeout: PHP waits forever for a session lock; Lifeline
// waits the lock wait (10s by default) and returns ErrLockTimeout.
func TestLockWaitTimeout(t *testing.T) {
	tests := []struct {
		name string
		opts []session.Option
		want time.Duration
	}{
		{"default 10s", nil, 10 * time.Second},
		{"configured", []session.Option{session.WithLockWait(250 * time.Millisecond)}, 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := newManager(t, newMemStore(t), tt.opts...)
				holder, rec := start(t, m, nil)
				defer holder.Abort(context.Background())
				began := time.Now()
				_, err := m.Start(httptestRecorder(), request(sessionCookie(t, rec)))
				if !errors.Is(err, session.ErrLockTimeout) {
					t.Fatalf("Start on a held session = %v, want ErrLockTimeout", err)
				}
				if waited := time.Since(began); waited != tt.want {
					t.Errorf("waited %v, want exactly %v", waited, tt.want)
				}
			})
		})
	}
}

// TestLockWaitUnbounded: WithLockWait(0) waits like PHP, until the request
// context ends; its cause is returned.
func TestLockWaitUnbounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newManager(t, newMemStore(t), session.WithLockWait(0))
		holder, rec := start(t, m, nil)
		defer holder.Abort(context.Background())
		cause := errors.New("client went away")
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(time.Minute, func() { cancel(cause) }) // well past the default 10s
		r := request(sessionCookie(t, rec)).WithContext(ctx)
		_, err := m.Start(httptestRecorder(), r)
		if !errors.Is(err, cause) {
			t.Fatalf("Start = %v, want the context's cause", err)
		}
		if errors.Is(err, session.ErrLockTimeout) {
			t.Error("an unbounded wait reported ErrLockTimeout")
		}
	})
}

// TestWaiterProceedsAtWriteClose: the second request gets the session the
// moment the first calls WriteClose, with the first one's changes.
func TestWaiterProceedsAtWriteClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newManager(t, newMemStore(t))
		holder, rec := start(t, m, nil)
		cookie := sessionCookie(t, rec)
		got := make(chan int, 1)
		go func() {
			s, err := m.Start(httptestRecorder(), request(cookie))
			if err != nil {
				t.Error(err)
				got <- -1
				return
			}
			n, _, _ := session.Value[int](s, "n")
			_ = s.Abort(context.Background())
			got <- n
		}()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		select {
		case <-got:
			t.Fatal("second Start did not wait for the holder")
		default:
		}
		_ = holder.Set("n", 7)
		_ = holder.WriteClose(context.Background())
		if n := <-got; n != 7 {
			t.Errorf("waiter read n=%d, want the holder's 7", n)
		}
	})
}

// TestRenewalKeepsLock: the Manager refreshes a held lock (every third of
// its TTL), so a long request keeps it well past the TTL.
func TestRenewalKeepsLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(t)
		m := newManager(t, store, session.WithLockTTL(30*time.Second))
		holder, rec := start(t, m, nil)
		cookie := sessionCookie(t, rec)
		waiter := newManager(t, store, session.WithLockWait(3*time.Minute))
		if _, err := waiter.Start(httptestRecorder(), request(cookie)); !errors.Is(err, session.ErrLockTimeout) {
			t.Fatalf("Start during a 3-minute hold = %v, want ErrLockTimeout", err)
		}
		if err := holder.WriteClose(context.Background()); err != nil {
			t.Fatalf("WriteClose after 3 minutes = %v", err)
		}
	})
}

// TestMaxLockHold: a session held past the max lock hold stops being
// refreshed and its lock expires one TTL later; the late write is refused.
func TestMaxLockHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore(t)
		log, buf := logBuffer()
		m := newManager(t, store, session.WithLockTTL(30*time.Second), session.WithMaxLockHold(time.Minute), session.WithLogger(log))
		began := time.Now()
		holder, rec := start(t, m, nil)
		other := newManager(t, store, session.WithLockWait(0))
		s, err := other.Start(httptestRecorder(), request(sessionCookie(t, rec)))
		if err != nil {
			t.Fatal(err)
		}
		// Refreshed at 10s, 20s, ... 60s (until the max hold), so it
		// expires at 90s.
		if got := time.Since(began); got != 90*time.Second {
			t.Errorf("lock freed after %v, want 90s (max hold 60s + TTL 30s)", got)
		}
		_ = s.Abort(context.Background())
		if err := holder.WriteClose(context.Background()); !errors.Is(err, session.ErrLockLost) {
			t.Errorf("late WriteClose = %v, want ErrLockLost", err)
		}
		if !strings.Contains(buf.String(), "max lock hold") {
			t.Errorf("no warning logged; log:\n%s", buf)
		}
	})
}

// TestLifetime: the absolute lifetime ends a session however active it is;
// the idle timeout is the store TTL.
func TestLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newRecStore(t)
		m := newManager(t, store, session.WithLifetime(time.Hour), session.WithIdleTimeout(20*time.Minute))
		s, rec := start(t, m, nil)
		_ = s.WriteClose(context.Background())
		if ttl := store.lastTTL(); ttl != 20*time.Minute {
			t.Errorf("store TTL %v, want the idle timeout 20m", ttl)
		}
		cookie := sessionCookie(t, rec)
		for i := range 5 { // a visit every 10 minutes keeps it alive...
			time.Sleep(10 * time.Minute)
			s, _ = start(t, m, cookie)
			if s.ID() != cookie.Value {
				t.Fatalf("session lost at visit %d", i+1)
			}
			_ = s.WriteClose(context.Background())
		}
		if ttl := store.lastTTL(); ttl != 10*time.Minute {
			t.Errorf("store TTL %v at 50 minutes, want the 10m left of the lifetime", ttl)
		}
		time.Sleep(10 * time.Minute) // ...until its hour is over
		s, _ = start(t, m, cookie)
		if s.ID() == cookie.Value {
			t.Error("session still adopted after its lifetime")
		}
		_ = s.Abort(context.Background())
	})
}

// TestDroppedSessionExpires: a session dropped without WriteClose (outside
// a run, no middleware) stops renewing its lock once garbage collected, so
// the lock expires: a session never stays locked forever.
func TestDroppedSessionExpires(t *testing.T) {
	store := newMemStore(t)
	log, buf := logBuffer()
	// A TTL long enough that a loaded machine never delays a renewal past
	// it: the lock must end because the session was dropped, not lost.
	m := newManager(t, store, session.WithLockTTL(600*time.Millisecond), session.WithMaxLockHold(time.Hour), session.WithLogger(log))
	cookie := func() *http.Cookie {
		_, rec := start(t, m, nil) // dropped while locked
		return sessionCookie(t, rec)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		tok, err := store.Lock(ctx, cookie.Value, time.Second)
		cancel()
		if err == nil {
			_ = store.Unlock(context.Background(), cookie.Value, tok)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lock of a dropped session is still renewed after 10s")
		}
	}
	if !strings.Contains(buf.String(), "WriteClose never called") {
		t.Errorf("no warning about the dropped session; log:\n%s", buf)
	}
}
