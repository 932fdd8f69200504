package idempotency_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.etcd.io/bbolt"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/idempotency/boltstore"
	"github.com/lifeline-go/lifeline/idempotency/redisstore"
	"github.com/lifeline-go/lifeline/internal/redistest"
)

// stores returns one constructor per store implementation; the Redis one
// starts a real redis-server.
func stores() []struct {
	name string
	new  func(t *testing.T) idempotency.Store
} {
	return []struct {
		name string
		new  func(t *testing.T) idempotency.Store
	}{
		{"memstore", func(t *testing.T) idempotency.Store { return newMem(t) }},
		{"boltstore", newBolt},
		{"redisstore", func(t *testing.T) idempotency.Store { return newRedis(t, redistest.Start(t).Addr()) }},
	}
}

func newBolt(t *testing.T) idempotency.Store {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "idem.db"), 0o600, &bbolt.Options{Timeout: 5 * time.Second, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	s, err := boltstore.New(db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newRedis(t *testing.T, addr string) *redisstore.Store {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 64})
	t.Cleanup(func() { _ = c.Close() })
	s, err := redisstore.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type result struct {
	status   int
	replayed bool
	body     string
	err      error
}

// postAll sends n identical POSTs with one key at once, to the servers in
// turn, and returns their results.
func postAll(t *testing.T, n int, key, body string, servers ...*httptest.Server) []result {
	t.Helper()
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		ts := servers[i%len(servers)]
		wg.Go(func() {
			<-start
			results[i] = post(ts, key, body)
		})
	}
	close(start)
	wg.Wait()
	return results
}

func post(ts *httptest.Server, key, body string) result {
	return postTo(ts, "/orders", key, body)
}

func postTo(ts *httptest.Server, path, key, body string) result {
	req, err := http.NewRequest("POST", ts.URL+path, strings.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	req.Header.Set("Idempotency-Key", key)
	resp, err := ts.Client().Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, replayed: resp.Header.Get("Idempotent-Replayed") == "true", body: string(b), err: err}
}

// checkOnce asserts the double-submit guarantee over results: one order,
// one fresh 2xx, and every other answer a 409 or a replay of that 2xx.
func checkOnce(t *testing.T, o *orders, results []result) (conflicts, replays int) {
	t.Helper()
	if n := o.n.Load(); n != 1 {
		t.Fatalf("%d orders placed by %d identical requests, want exactly 1", n, len(results))
	}
	fresh := 0
	var freshBody string
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("request failed: %v", r.err)
		}
		switch {
		case r.status == http.StatusCreated && !r.replayed:
			fresh++
			freshBody = r.body
		case r.status == http.StatusCreated && r.replayed:
			replays++
		case r.status == http.StatusConflict:
			conflicts++
		default:
			t.Fatalf("unexpected answer %d replayed=%v %q", r.status, r.replayed, r.body)
		}
	}
	if fresh != 1 {
		t.Fatalf("%d fresh 201 answers, want 1", fresh)
	}
	for _, r := range results {
		if r.replayed && r.body != freshBody {
			t.Fatalf("replayed body %q, want the original %q", r.body, freshBody)
		}
	}
	return conflicts, replays
}

// TestConcurrentDuplicates is the double click multiplied: 50 identical
// POSTs with one key at once, against every store.
func TestConcurrentDuplicates(t *testing.T) {
	const n = 50
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			t.Run("while the run is held", func(t *testing.T) {
				// The run blocks until the 49 others are answered, so all
				// of them must be 409: deterministic, whatever the timing.
				var o orders
				entered, proceed := make(chan struct{}), make(chan struct{})
				h := newMiddleware(t, st.new(t)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					close(entered)
					<-proceed
					o.ServeHTTP(w, r)
				}))
				ts := httptest.NewServer(h)
				defer ts.Close()
				first := make(chan result, 1)
				go func() { first <- post(ts, "held", "book") }()
				<-entered
				results := postAll(t, n-1, "held", "book", ts)
				close(proceed)
				results = append(results, <-first)
				if conflicts, _ := checkOnce(t, &o, results); conflicts != n-1 {
					t.Fatalf("%d conflicts, want %d", conflicts, n-1)
				}
				if r := post(ts, "held", "book"); !r.replayed {
					t.Fatalf("after the run: %d %q, want a replay", r.status, r.body)
				}
			})
			t.Run("free for all", func(t *testing.T) {
				var o orders
				ts := httptest.NewServer(newMiddleware(t, st.new(t)).Handler(&o))
				defer ts.Close()
				conflicts, replays := checkOnce(t, &o, postAll(t, n, "free", "book", ts))
				t.Logf("%d conflicts, %d replays", conflicts, replays)
			})
		})
	}
}

// TestTwoInstancesOneRedis: two servers, each with its own Middleware and
// Redis client, share one Redis; duplicates spread over both still place
// one order.
func TestTwoInstancesOneRedis(t *testing.T) {
	srv := redistest.Start(t)
	var o orders
	servers := make([]*httptest.Server, 2)
	for i := range servers {
		servers[i] = httptest.NewServer(newMiddleware(t, newRedis(t, srv.Addr())).Handler(&o))
		defer servers[i].Close()
	}
	for round := range 3 {
		o.n.Store(0)
		key := fmt.Sprint("two-instances-", round)
		checkOnce(t, &o, postAll(t, 50, key, "book", servers...))
		for i, ts := range servers {
			if r := post(ts, key, "book"); !r.replayed {
				t.Fatalf("round %d: instance %d after the run: %d %q, want a replay", round, i, r.status, r.body)
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
	store, err := redisstore.New(c)
	if err != nil {
		t.Fatal(err)
	}
	var o orders
	ts := httptest.NewServer(newMiddleware(t, store).Handler(&o))
	defer ts.Close()
	srv.Kill()
	r := post(ts, "k", "book")
	if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "store is unavailable") || o.n.Load() != 0 {
		t.Fatalf("with Redis down: %d %q after %d orders; want 503 and no order", r.status, r.body, o.n.Load())
	}
	srv.Restart()
	if r := post(ts, "k", "book"); r.status != http.StatusCreated || r.replayed || o.n.Load() != 1 {
		t.Fatalf("with Redis back: %d replayed=%v after %d orders; want the order placed", r.status, r.replayed, o.n.Load())
	}
}
