package redisstore_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/idempotency/idempotencytest"
	"github.com/lifeline-go/lifeline/idempotency/redisstore"
	"github.com/lifeline-go/lifeline/internal/idemtest"
	"github.com/lifeline-go/lifeline/internal/pooltest"
	"github.com/lifeline-go/lifeline/internal/redistest"
)

// newServingStore returns a store on a client of its own for the Redis at
// addr, with a connection pool large enough for 50 requests at once.
func newServingStore(t testing.TB, addr string) *redisstore.Store {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 64})
	t.Cleanup(func() { _ = c.Close() })
	return newStore(t, c)
}

// TestConcurrentDuplicates is the double click multiplied: 50 identical
// POSTs with one key at once, each subtest on a Redis of its own.
func TestConcurrentDuplicates(t *testing.T) {
	idempotencytest.RunConcurrency(t, func(t *testing.T) idempotency.Store {
		return newServingStore(t, redistest.Start(t).Addr())
	})
}

// TestTwoInstancesOneRedis: two servers, each with its own Middleware and
// Redis client, share one Redis; duplicates spread over both still place
// one order.
func TestTwoInstancesOneRedis(t *testing.T) {
	srv := redistest.Start(t)
	var o idemtest.Orders
	servers := make([]*httptest.Server, 2)
	for i := range servers {
		servers[i] = httptest.NewServer(idemtest.NewMiddleware(t, newServingStore(t, srv.Addr())).Handler(&o))
		defer servers[i].Close()
	}
	for round := range 3 {
		o.N.Store(0)
		key := fmt.Sprint("two-instances-", round)
		idemtest.CheckOnce(t, &o, idemtest.PostAll(t, 50, key, "book", servers...))
		for i, ts := range servers {
			if r := idemtest.Post(ts, key, "book"); !r.Replayed {
				t.Fatalf("round %d: instance %d after the run: %d %q, want a replay", round, i, r.Status, r.Body)
			}
		}
	}
}

// TestRedisDownAnswers503: with Redis unreachable the protected handler
// never runs unprotected; the client is told to retry, and its retry runs
// once Redis is back.
func TestRedisDownAnswers503(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: 1, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	var o idemtest.Orders
	ts := httptest.NewServer(idemtest.NewMiddleware(t, newStore(t, c)).Handler(&o))
	defer ts.Close()
	srv.Kill()
	r := idemtest.Post(ts, "k", "book")
	if r.Status != http.StatusServiceUnavailable || !strings.Contains(r.Body, "store is unavailable") || o.N.Load() != 0 {
		t.Fatalf("with Redis down: %d %q after %d orders; want 503 and no order", r.Status, r.Body, o.N.Load())
	}
	srv.Restart()
	if r := idemtest.Post(ts, "k", "book"); r.Status != http.StatusCreated || r.Replayed || o.N.Load() != 1 {
		t.Fatalf("with Redis back: %d replayed=%v after %d orders; want the order placed", r.Status, r.Replayed, o.N.Load())
	}
}

// TestTwoInstancesAbortOneRedis: the abort-and-retry scenario across two
// Lifeline instances on one Redis, with the retries spread over both. The
// run that lost its client finishes on the first instance, and a retry on
// either is replayed its result: one charge, one order.
func TestTwoInstancesAbortOneRedis(t *testing.T) {
	srv := redistest.Start(t)
	c := idemtest.NewCheckout()
	pools := pooltest.NewN(t, 2)
	servers := make([]*httptest.Server, len(pools))
	for i, p := range pools {
		servers[i] = idemtest.StartLifeline(t, p, idemtest.NewMiddleware(t, newServingStore(t, srv.Addr())).Handler(c))
	}
	idemtest.AbortMidRequest(t, servers[0], c, "order-2")
	r, tries := idemtest.RetryUntilAnswered(t, "order-2", servers[1], servers[0])
	if r.Status != http.StatusOK || !r.Replayed || !strings.HasSuffix(r.Body, "order 1 recorded") {
		t.Fatalf("retry %d = %d replayed=%v %q; want the replay of order 1", tries, r.Status, r.Replayed, r.Body)
	}
	for i, ts := range servers {
		if r := idemtest.PostTo(ts, "/checkout", "order-2", "item=book&card=4242"); !r.Replayed || !strings.HasSuffix(r.Body, "order 1 recorded") {
			t.Fatalf("instance %d: %d %q, want the replay", i, r.Status, r.Body)
		}
	}
	if c.Charges.Load() != 1 || c.Orders.Load() != 1 {
		t.Fatalf("%d charges and %d orders, want 1 and 1", c.Charges.Load(), c.Orders.Load())
	}
}
