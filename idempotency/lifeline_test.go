package idempotency_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/internal/idemtest"
	"github.com/lifeline-go/lifeline/internal/pooltest"
	"github.com/lifeline-go/lifeline/internal/wait"
)

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
			c := idemtest.NewCheckout()
			m := idemtest.NewMiddleware(t, newMem(t), idempotency.WithIgnoreUserAbort(tt.ignore))
			ts := idemtest.StartLifeline(t, pooltest.New(t), m.Handler(c))
			idemtest.AbortMidRequest(t, ts, c, "order-1")
			r, _ := idemtest.RetryUntilAnswered(t, "order-1", ts)
			if r.Status != http.StatusOK || r.Replayed != tt.wantReplay || !strings.HasSuffix(r.Body, "order 1 recorded") {
				t.Fatalf("retry = %d replayed=%v %q; want 200 replayed=%v ending in \"order 1 recorded\"", r.Status, r.Replayed, r.Body, tt.wantReplay)
			}
			if got := c.Charges.Load(); got != tt.wantCharges {
				t.Fatalf("%d charges, want %d", got, tt.wantCharges)
			}
			if got := c.Orders.Load(); got != 1 {
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
	h := idemtest.NewMiddleware(t, newMem(t)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	p := pooltest.New(t)
	ts := idemtest.StartLifeline(t, p, h)
	first := idemtest.Post(ts, "k", "")
	second := idemtest.Post(ts, "k", "")
	close(proceed)
	<-done
	for i, r := range []idemtest.Result{first, second} {
		if r.Err != nil || r.Status != http.StatusAccepted || r.Body != "we'll email you as soon as this is done" {
			t.Fatalf("response %d = %d %q %v, want 202 and the early answer", i, r.Status, r.Body, r.Err)
		}
	}
	if first.Replayed || !second.Replayed {
		t.Fatalf("replayed = %v, %v; want the retry during the background work replayed", first.Replayed, second.Replayed)
	}
	if n := background.Load(); n != 1 {
		t.Fatalf("background work ran %d times, want 1", n)
	}
	// Both runs say on the status page what the middleware did.
	wait.For(t, 10*time.Second, "two run records", func() bool { return len(p.Recent()) == 2 })
	notes := map[string]bool{}
	for _, rec := range p.Recent() {
		notes[rec.Notes["idempotency"]] = true
	}
	if !notes["ran"] || !notes["replayed"] {
		t.Fatalf("run notes = %v, want \"ran\" and \"replayed\"", notes)
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
			var o idemtest.Orders
			inner := idemtest.NewMiddleware(t, newMem(t), idempotency.WithIgnoreUserAbort(ignore)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
			var r idemtest.Result
			wait.For(t, 10*time.Second, "the replay", func() bool {
				r = idemtest.Post(ts, "k", "book")
				return r.Status != http.StatusConflict
			})
			if !r.Replayed || r.Body != "order 1: book" || o.N.Load() != 1 {
				t.Fatalf("retry = %d replayed=%v %q after %d orders; want the replay of order 1", r.Status, r.Replayed, r.Body, o.N.Load())
			}
		})
	}
}
