package idempotency_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/internal/redistest"
)

// newPool returns a Lifeline pool shut down when the test ends.
func newPool(t *testing.T, opts ...lifeline.Option) *lifeline.Pool {
	t.Helper()
	opts = append([]lifeline.Option{lifeline.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	p, err := lifeline.NewPool(opts...)
	if err != nil {
		t.Fatalf("lifeline.NewPool: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("Pool.Shutdown: %v", err)
		}
	})
	return p
}

// startLifeline serves h through p on a real loopback socket, with the
// pool's socket-level abort detection installed.
func startLifeline(t *testing.T, p *lifeline.Pool, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(p.Middleware()(h))
	p.ConfigureServer(ts.Config)
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

// waitFor polls cond until it holds or 10 s have passed; it waits for an
// event, it does not measure time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// checkout is the seed's order script: it charges the card, says so, and
// then records the order in the local database. The client disconnects
// between the two, as in "their card was charged, but they weren't added
// to my local DB".
type checkout struct {
	started chan struct{} // receives once per run, when the run starts
	charges atomic.Int64
	orders  atomic.Int64
}

func newCheckout() *checkout { return &checkout{started: make(chan struct{}, 8)} }

func (c *checkout) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rn, ok := lifeline.FromContext(r.Context())
	if !ok {
		panic("checkout runs inside Lifeline")
	}
	first := c.charges.Load() == 0
	c.started <- struct{}{}
	if first {
		// The first client leaves now; wait until Lifeline has seen it go.
		for !rn.Aborted() {
			time.Sleep(time.Millisecond)
		}
	}
	c.charges.Add(1)
	fmt.Fprint(w, "card charged; ")
	_ = http.NewResponseController(w).Flush() // terminates the run here unless aborts are ignored
	n := c.orders.Add(1)
	w.Header().Set("Location", fmt.Sprintf("/orders/%d", n))
	fmt.Fprintf(w, "order %d recorded", n)
}

// abortMidRequest sends a whole POST on a raw connection, waits for the
// run to start, and closes the connection: the user pressed Stop.
func abortMidRequest(t *testing.T, ts *httptest.Server, c *checkout, key string) {
	t.Helper()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	body := "item=book&card=4242"
	fmt.Fprintf(conn, "POST /checkout HTTP/1.1\r\nHost: shop\r\nIdempotency-Key: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", key, len(body), body)
	select {
	case <-c.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not start")
	}
	_ = conn.Close()
}

// retryUntilAnswered retries the POST, over the servers in turn, until the
// answer is not 409 (the first run may still be finishing).
func retryUntilAnswered(t *testing.T, key string, servers ...*httptest.Server) (result, int) {
	t.Helper()
	var r result
	tries := 0
	waitFor(t, "an answer other than 409", func() bool {
		ts := servers[tries%len(servers)]
		tries++
		req, _ := http.NewRequest("POST", ts.URL+"/checkout", strings.NewReader("item=book&card=4242"))
		req.Header.Set("Idempotency-Key", key)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		r = result{status: resp.StatusCode, replayed: resp.Header.Get("Idempotent-Replayed") == "true", body: string(b)}
		return r.status != http.StatusConflict
	})
	return r, tries
}

// TestAbortThenRetry: a client disconnects mid-order and retries with the
// same key. The run that lost its client finishes (the middleware made it
// ignore the abort), and the retry gets its result: one charge, one order.
// Without that, the run dies between charge and order, its key is
// released, and the retry charges again.
func TestAbortThenRetry(t *testing.T) {
	tests := []struct {
		name        string
		ignore      bool
		wantCharges int64
		wantReplay  bool
	}{
		{"abort ignored (default)", true, 1, true},
		{"abort not ignored", false, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCheckout()
			m := newMiddleware(t, newMem(t), idempotency.WithIgnoreUserAbort(tt.ignore))
			ts := startLifeline(t, newPool(t), m.Handler(c))
			abortMidRequest(t, ts, c, "order-1")
			r, _ := retryUntilAnswered(t, "order-1", ts)
			if r.status != http.StatusOK || r.replayed != tt.wantReplay || !strings.HasSuffix(r.body, "order 1 recorded") {
				t.Fatalf("retry = %d replayed=%v %q; want 200 replayed=%v ending in \"order 1 recorded\"", r.status, r.replayed, r.body, tt.wantReplay)
			}
			if got := c.charges.Load(); got != tt.wantCharges {
				t.Fatalf("%d charges, want %d", got, tt.wantCharges)
			}
			if got := c.orders.Load(); got != 1 {
				t.Fatalf("%d orders recorded, want 1", got)
			}
		})
	}
}

// TestFinishRecordsBeforeRelease: a handler that answers early with Finish
// and goes on working has its response recorded at Finish, so a retry sent
// as soon as the client has the answer is replayed, not refused with 409.
func TestFinishRecordsBeforeRelease(t *testing.T) {
	var background atomic.Int64
	proceed, done := make(chan struct{}), make(chan struct{})
	h := newMiddleware(t, newMem(t)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		w.Header().Set("Location", "/orders/1")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, "we'll email you as soon as this is done")
		if err := rn.Finish(); err != nil {
			t.Errorf("Finish: %v", err)
		}
		fmt.Fprint(w, "after Finish: discarded, not recorded")
		<-proceed
		background.Add(1)
		close(done)
	}))
	p := newPool(t)
	ts := startLifeline(t, p, h)
	first := post(ts, "k", "")
	second := post(ts, "k", "")
	close(proceed)
	<-done
	for i, r := range []result{first, second} {
		if r.err != nil || r.status != http.StatusAccepted || r.body != "we'll email you as soon as this is done" {
			t.Fatalf("response %d = %d %q %v, want 202 and the early answer", i, r.status, r.body, r.err)
		}
	}
	if first.replayed || !second.replayed {
		t.Fatalf("replayed = %v, %v; want the retry during the background work replayed", first.replayed, second.replayed)
	}
	if n := background.Load(); n != 1 {
		t.Fatalf("background work ran %d times, want 1", n)
	}
	// Both runs say on the status page what the middleware did.
	waitFor(t, "two run records", func() bool { return len(p.Recent()) == 2 })
	notes := map[string]bool{}
	for _, rec := range p.Recent() {
		notes[rec.Notes["idempotency"]] = true
	}
	if !notes["ran"] || !notes["replayed"] {
		t.Fatalf("run notes = %v, want \"ran\" and \"replayed\"", notes)
	}
}

// TestTwoInstancesAbortOneRedis: the abort-and-retry scenario across two
// instances on one Redis, with the retries spread over both.
func TestTwoInstancesAbortOneRedis(t *testing.T) {
	srv := redistest.Start(t)
	c := newCheckout()
	servers := make([]*httptest.Server, 2)
	for i := range servers {
		servers[i] = startLifeline(t, newPool(t), newMiddleware(t, newRedis(t, srv.Addr())).Handler(c))
	}
	abortMidRequest(t, servers[0], c, "order-2")
	r, tries := retryUntilAnswered(t, "order-2", servers[1], servers[0])
	if r.status != http.StatusOK || !r.replayed || !strings.HasSuffix(r.body, "order 1 recorded") {
		t.Fatalf("retry %d = %d replayed=%v %q; want the replay of order 1", tries, r.status, r.replayed, r.body)
	}
	for i, ts := range servers {
		if r := postTo(ts, "/checkout", "order-2", "item=book&card=4242"); !r.replayed || !strings.HasSuffix(r.body, "order 1 recorded") {
			t.Fatalf("instance %d: %d %q, want the replay", i, r.status, r.body)
		}
	}
	if c.charges.Load() != 1 || c.orders.Load() != 1 {
		t.Fatalf("%d charges and %d orders, want 1 and 1", c.charges.Load(), c.orders.Load())
	}
}

type origCtxKey struct{}

// TestIgnoreUserAbortOutsideLifeline: on plain net/http the protected
// handler's context survives the client's disconnect by default, so the
// order completes and the retry is replayed.
func TestIgnoreUserAbortOutsideLifeline(t *testing.T) {
	for _, ignore := range []bool{true, false} {
		t.Run(fmt.Sprint("ignore=", ignore), func(t *testing.T) {
			started, seen := make(chan struct{}, 1), make(chan error, 1)
			var o orders
			inner := newMiddleware(t, newMem(t), idempotency.WithIgnoreUserAbort(ignore)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				orig := r.Context().Value(origCtxKey{}).(context.Context)
				started <- struct{}{}
				<-orig.Done() // net/http saw the client leave
				seen <- r.Context().Err()
				o.ServeHTTP(w, r)
			}))
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inner.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), origCtxKey{}, r.Context())))
			}))
			defer ts.Close()
			conn, err := net.Dial("tcp", ts.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprint(conn, "POST /orders HTTP/1.1\r\nHost: shop\r\nIdempotency-Key: k\r\nContent-Length: 4\r\n\r\nbook")
			<-started
			_ = conn.Close()
			if err := <-seen; (err == nil) != ignore {
				t.Fatalf("handler context error after the client left = %v; want nil only when ignoring aborts", err)
			}
			if !ignore {
				return
			}
			var r result
			waitFor(t, "the replay", func() bool {
				r = post(ts, "k", "book")
				return r.status != http.StatusConflict
			})
			if !r.replayed || r.body != "order 1: book" || o.n.Load() != 1 {
				t.Fatalf("retry = %d replayed=%v %q after %d orders; want the replay of order 1", r.status, r.replayed, r.body, o.n.Load())
			}
		})
	}
}
