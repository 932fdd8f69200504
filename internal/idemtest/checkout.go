package idemtest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/wait"
	"github.com/lifeline-go/lifeline/lifelinetest"
)

// StartLifeline serves h through p on a real loopback socket, with the
// pool's socket-level abort detection installed, closed when the test ends.
func StartLifeline(t testing.TB, p *lifelinetest.Pool, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(p.Middleware()(h))
	p.ConfigureServer(ts.Config)
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

// Checkout is an order script that charges the card, says so, and then
// records the order in the local database; the first client disconnects
// between the two ("their card was charged, but they weren't added to my
// local DB"). It runs inside Lifeline only. Create it with [NewCheckout].
type Checkout struct {
	started chan struct{} // receives once per run, when the run starts
	Charges atomic.Int64  // cards charged
	Orders  atomic.Int64  // orders recorded
}

// NewCheckout returns a Checkout that has charged nothing.
func NewCheckout() *Checkout { return &Checkout{started: make(chan struct{}, 8)} }

// ServeHTTP charges, flushes "card charged; " and records the order; the
// first run waits for its client to leave before charging.
func (c *Checkout) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rn, ok := lifeline.FromContext(r.Context())
	if !ok {
		panic("checkout runs inside Lifeline")
	}
	first := c.Charges.Load() == 0
	c.started <- struct{}{}
	if first {
		// The first client leaves now; wait until Lifeline has seen it go.
		for !rn.Aborted() {
			time.Sleep(time.Millisecond)
		}
	}
	c.Charges.Add(1)
	fmt.Fprint(w, "card charged; ")
	_ = http.NewResponseController(w).Flush() // terminates the run here unless aborts are ignored
	n := c.Orders.Add(1)
	w.Header().Set("Location", fmt.Sprintf("/orders/%d", n))
	fmt.Fprintf(w, "order %d recorded", n)
}

// AbortMidRequest sends a whole POST /checkout with the Idempotency-Key key
// on a raw connection, waits for c's run to start, and closes the
// connection: the user pressed Stop.
func AbortMidRequest(t testing.TB, ts *httptest.Server, c *Checkout, key string) {
	t.Helper()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	body := "item=book&card=4242"
	fmt.Fprintf(conn, "POST /checkout HTTP/1.1\r\nHost: shop\r\nIdempotency-Key: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", key, len(body), body)
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case <-c.started:
	case <-timer.C:
		t.Fatal("the run did not start")
	}
	_ = conn.Close()
}

// RetryUntilAnswered retries the checkout's POST with key, over the servers
// in turn, until the answer is not 409 (the first run may still be
// finishing), and returns that answer and how many tries it took.
func RetryUntilAnswered(t testing.TB, key string, servers ...*httptest.Server) (Result, int) {
	t.Helper()
	var r Result
	tries := 0
	wait.For(t, 10*time.Second, "an answer other than 409", func() bool {
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
		r = Result{Status: resp.StatusCode, Replayed: resp.Header.Get("Idempotent-Replayed") == "true", Body: string(b)}
		return r.Status != http.StatusConflict
	})
	return r, tries
}
