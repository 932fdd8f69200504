package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-go/lifeline/internal/redistest"
	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/redisstore"
	"github.com/lifeline-go/lifeline/session/sessiontest"
)

var prefixSeq atomic.Int64

// newClient returns a client for srv, closed when tb ends.
func newClient(tb testing.TB, srv *redistest.Server) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), DialTimeout: time.Second, MaxRetries: 1, DialerRetries: 1})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// newStore returns a store with a prefix of its own on srv, closed when tb
// ends.
func newStore(tb testing.TB, c redis.UniversalClient, opts ...redisstore.Option) *redisstore.Store {
	tb.Helper()
	opts = append([]redisstore.Option{redisstore.WithPrefix(fmt.Sprintf("t%d:", prefixSeq.Add(1)))}, opts...)
	s, err := redisstore.New(c, opts...)
	if err != nil {
		tb.Fatalf("redisstore.New = %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	sessiontest.Run(t, func(t *testing.T) session.Store { return newStore(t, c) })
}

// TestConformancePolling runs the suite with Pub/Sub off: waiters poll.
func TestConformancePolling(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	sessiontest.Run(t, func(t *testing.T) session.Store {
		return newStore(t, c, redisstore.WithNotify(false), redisstore.WithPollInterval(5*time.Millisecond))
	})
}

// TestTwoMachines is the cross-machine case: two Managers, each with its own
// client and store (as on two servers), increment one session value 1,000
// times concurrently through one Redis. PHP's lock must lose none.
func TestTwoMachines(t *testing.T) {
	srv := redistest.Start(t)
	var managers [2]*session.Manager
	for i := range managers {
		m, err := session.New(newStore(t, newClient(t, srv), redisstore.WithPrefix("shared:")),
			session.WithLockWait(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		managers[i] = m
	}
	cookie := sessiontest.NewSession(t, managers[0], func(s *session.Session) error { return s.Set("n", 0) })
	const total = 1000
	start := time.Now()
	errc := make(chan error, total)
	var wg sync.WaitGroup
	for i := range total {
		wg.Go(func() {
			if err := sessiontest.Increment(managers[i%2], cookie, "n"); err != nil {
				errc <- err
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if n := sessiontest.Read(t, managers[1], cookie, "n"); n != total {
		t.Fatalf("n = %d after %d concurrent increments on two machines: %d lost", n, total, total-n)
	}
	t.Logf("%d increments across two managers in %v", total, time.Since(start))
}

// TestLockKeys checks the lock as Redis holds it: SET NX PX with the
// "fence:nonce" token and a TTL no longer than asked.
func TestLockKeys(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	s := newStore(t, c, redisstore.WithPrefix("k:"))
	ctx := t.Context()
	id := sessiontest.ID(t)
	tok, err := s.Lock(ctx, id, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	lockKey := "k:{" + id + "}:lock"
	if v, err := c.Get(ctx, lockKey).Result(); err != nil || v != tok.String() {
		t.Errorf("GET %s = %q, %v; want %q", lockKey, v, err, tok.String())
	}
	if pttl, err := c.PTTL(ctx, lockKey).Result(); err != nil || pttl <= 0 || pttl > 2*time.Second {
		t.Errorf("PTTL %s = %v, %v; want in (0, 2s]", lockKey, pttl, err)
	}
	if len(tok.Nonce) != 32 {
		t.Errorf("nonce %q: want 128 random bits in hex", tok.Nonce)
	}
	if err := s.Unlock(ctx, id, tok); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Exists(ctx, lockKey).Result(); n != 0 {
		t.Errorf("lock key still there after Unlock")
	}
}

// TestRedisDown kills Redis under a Manager: Start and WriteClose fail with
// ErrStoreUnavailable (never an empty session), and work again once Redis
// is back (with a new session: this Redis has no persistence).
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	store := newStore(t, newClient(t, srv))
	m, err := session.New(store, session.WithStoreTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	cookie := sessiontest.NewSession(t, m, func(s *session.Session) error { return s.Set("user", "ann") })

	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(cookie)
	held, err := m.Start(httptest.NewRecorder(), req)
	if err != nil {
		t.Fatal(err)
	}
	_ = held.Set("user", "bob")

	srv.Kill()
	if err := held.WriteClose(t.Context()); !errors.Is(err, session.ErrStoreUnavailable) {
		t.Errorf("WriteClose with Redis down = %v, want ErrStoreUnavailable", err)
	}
	sess, err := m.Start(httptest.NewRecorder(), req)
	if !errors.Is(err, session.ErrStoreUnavailable) {
		t.Fatalf("Start with Redis down = %v, %v; want ErrStoreUnavailable, no session", sess, err)
	}
	t.Logf("Start with Redis down: %v", err)
	if _, err := m.StartReadOnly(req); !errors.Is(err, session.ErrStoreUnavailable) {
		t.Errorf("StartReadOnly with Redis down = %v, want ErrStoreUnavailable", err)
	}

	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for {
		sess, err = m.Start(httptest.NewRecorder(), req)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // the client reconnects
	}
	if err != nil {
		t.Fatalf("Start after Restart = %v", err)
	}
	if sess.ID() == cookie.Value || !sess.IsNew() {
		t.Errorf("Start after a restart without persistence adopted the lost id")
	}
	if err := sess.WriteClose(context.Background()); err != nil {
		t.Errorf("WriteClose after Restart = %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := redisstore.New(nil); !errors.Is(err, session.ErrInvalidOption) {
		t.Errorf("New(nil) = %v, want ErrInvalidOption", err)
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for name, opts := range map[string][]redisstore.Option{
		"poll interval": {redisstore.WithPollInterval(0)},
		"nil option":    {redisstore.WithNotify(false), nil},
	} {
		_, err := redisstore.New(c, opts...)
		if !errors.Is(err, session.ErrInvalidOption) || !strings.HasPrefix(err.Error(), "redisstore: ") {
			t.Errorf("New(%s) = %v, want \"redisstore: ...\" wrapping session.ErrInvalidOption", name, err)
		}
	}
}
