// Package idemtest holds the HTTP test set-up shared by package idempotency's
// tests, the conformance suite's RunConcurrency (package idempotencytest) and
// the store modules' tests: a handler that places orders, identical POSTs
// sent at once, the check that they placed exactly one order, the
// abort-and-retry checkout, and the benchmark harness. Its helpers that take
// a testing.TB are called from the test's goroutine.
package idemtest

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lifeline-go/lifeline/idempotency"
)

// NewMiddleware returns an idempotency middleware on store with a silent
// logger and opts; it ends the test if New fails.
func NewMiddleware(t testing.TB, store idempotency.Store, opts ...idempotency.Option) *idempotency.Middleware {
	t.Helper()
	opts = append([]idempotency.Option{idempotency.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	m, err := idempotency.New(store, opts...)
	if err != nil {
		t.Fatalf("idempotency.New: %v", err)
	}
	return m
}

// Orders is the side effect under test: a handler that places an order
// (counts it in N) and answers 201 with the order number. Its zero value is
// ready; it may serve from many goroutines at once.
type Orders struct {
	N atomic.Int64 // orders placed
}

// ServeHTTP places an order and answers 201, "order n: <request body>".
func (o *Orders) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	n := o.N.Add(1)
	w.Header().Set("Location", fmt.Sprintf("/orders/%d", n))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, "order %d: %s", n, body)
}

// Result is what a client got for one POST.
type Result struct {
	Status   int
	Replayed bool // the answer carried Idempotent-Replayed: true
	Body     string
	Err      error // the request failed, or reading its body did
}

// Post sends a POST to ts's /orders with the Idempotency-Key key.
func Post(ts *httptest.Server, key, body string) Result {
	return PostTo(ts, "/orders", key, body)
}

// PostTo sends a POST to ts's path with the Idempotency-Key key. It may be
// called from any goroutine.
func PostTo(ts *httptest.Server, path, key, body string) Result {
	req, err := http.NewRequest("POST", ts.URL+path, strings.NewReader(body))
	if err != nil {
		return Result{Err: err}
	}
	req.Header.Set("Idempotency-Key", key)
	resp, err := ts.Client().Do(req)
	if err != nil {
		return Result{Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return Result{Status: resp.StatusCode, Replayed: resp.Header.Get("Idempotent-Replayed") == "true", Body: string(b), Err: err}
}

// PostAll sends n identical POSTs with one key at once, to the servers in
// turn, and returns their results.
func PostAll(t testing.TB, n int, key, body string, servers ...*httptest.Server) []Result {
	t.Helper()
	results := make([]Result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		ts := servers[i%len(servers)]
		wg.Go(func() {
			<-start
			results[i] = Post(ts, key, body)
		})
	}
	close(start)
	wg.Wait()
	return results
}

// CheckOnce asserts the double-submit guarantee over results: one order,
// one fresh 201, and every other answer a 409 or a replay of that 201. It
// returns how many of each of the others there were.
func CheckOnce(t testing.TB, o *Orders, results []Result) (conflicts, replays int) {
	t.Helper()
	if n := o.N.Load(); n != 1 {
		t.Fatalf("%d orders placed by %d identical requests, want exactly 1", n, len(results))
	}
	fresh := 0
	var freshBody string
	for _, r := range results {
		if r.Err != nil {
			t.Fatalf("request failed: %v", r.Err)
		}
		switch {
		case r.Status == http.StatusCreated && !r.Replayed:
			fresh++
			freshBody = r.Body
		case r.Status == http.StatusCreated && r.Replayed:
			replays++
		case r.Status == http.StatusConflict:
			conflicts++
		default:
			t.Fatalf("unexpected answer %d replayed=%v %q", r.Status, r.Replayed, r.Body)
		}
	}
	if fresh != 1 {
		t.Fatalf("%d fresh 201 answers, want 1", fresh)
	}
	for _, r := range results {
		if r.Replayed && r.Body != freshBody {
			t.Fatalf("replayed body %q, want the original %q", r.Body, freshBody)
		}
	}
	return conflicts, replays
}
