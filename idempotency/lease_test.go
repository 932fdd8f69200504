package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/internal/idemtest"
	"github.com/lifeline-go/lifeline/internal/pooltest"
)

// TestLeaseRenewedWhileRunning: a run that lasts many leases keeps its
// key, because the middleware renews the lease; a retry meanwhile gets 409,
// never a second run.
func TestLeaseRenewedWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var o idemtest.Orders
		var calls atomic.Int64
		release := make(chan struct{})
		slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				<-release // only the first run is slow: a second one would answer at once
			}
			o.ServeHTTP(w, r)
		})
		h := idemtest.NewMiddleware(t, newMem(t), idempotency.WithLease(time.Second)).Handler(slow)
		first := make(chan int)
		go func() { first <- serve(h, request("POST", "/orders", "k", "book")).Code }()
		for range 10 {
			time.Sleep(time.Second) // ten leases
			w := serve(h, request("POST", "/orders", "k", "book"))
			wantProblem(t, w, http.StatusConflict, "still being processed")
			if w.Header().Get("Retry-After") == "" {
				t.Fatal("409 without Retry-After")
			}
		}
		close(release)
		if code := <-first; code != http.StatusCreated {
			t.Fatalf("first run: %d", code)
		}
		if w := serve(h, request("POST", "/orders", "k", "book")); w.Code != http.StatusCreated || w.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("after the run: %d replayed=%q, want the replay", w.Code, w.Header().Get("Idempotent-Replayed"))
		}
		if n := o.N.Load(); n != 1 {
			t.Fatalf("%d orders, want 1", n)
		}
	})
}

// TestLeaseRunsOutAfterCrash: a reservation whose process died (nobody
// renews it) blocks its key for one lease, not for the key's TTL; then a
// retry runs.
func TestLeaseRunsOutAfterCrash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var o idemtest.Orders
		store := newMem(t)
		h := idemtest.NewMiddleware(t, store, idempotency.WithLease(3*time.Second)).Handler(&o)
		// What a process that died mid-run leaves: a reservation made with
		// the lease, never renewed, completed or released. The store key is
		// the client's key: no principal is set.
		probe := request("POST", "/orders", "k", "book")
		fp := fingerprintOf(t, probe)
		if _, err := store.Reserve(context.Background(), "k", fp, "dead-run", 3*time.Second); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2900 * time.Millisecond)
		wantProblem(t, serve(h, request("POST", "/orders", "k", "book")), http.StatusConflict, "still being processed")
		time.Sleep(200 * time.Millisecond)
		if w := serve(h, request("POST", "/orders", "k", "book")); w.Code != http.StatusCreated || w.Header().Get("Idempotent-Replayed") != "" {
			t.Fatalf("after the lease: %d replayed=%q, want a fresh run", w.Code, w.Header().Get("Idempotent-Replayed"))
		}
		if n := o.N.Load(); n != 1 {
			t.Fatalf("%d orders, want 1", n)
		}
	})
}

// fingerprintOf learns the fingerprint the middleware gives r, through a
// store that records it.
func fingerprintOf(t *testing.T, r *http.Request) string {
	t.Helper()
	spy := &fingerprints{Store: newMem(t)}
	serve(idemtest.NewMiddleware(t, spy).Handler(http.NotFoundHandler()), r.Clone(context.Background()))
	if len(spy.got) != 1 {
		t.Fatalf("fingerprints seen: %v", spy.got)
	}
	return spy.got[0]
}

// TestLeaseLost: a run whose renewals find the reservation gone (its lease
// ran out while the store was unreachable and another run took the key)
// learns it through Lease.Lost.
func TestLeaseLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &renewFails{Store: newMem(t)}
		lost := make(chan bool, 1)
		h := idemtest.NewMiddleware(t, store, idempotency.WithLease(time.Second)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			l, ok := idempotency.LeaseFromContext(r.Context())
			if !ok {
				t.Error("no lease in a protected run")
				return
			}
			select {
			case <-l.Lost():
				lost <- true
			case <-time.After(time.Minute):
				lost <- false
			}
		}))
		store.fail.Store(true)
		serve(h, request("POST", "/orders", "k", ""))
		if !<-lost {
			t.Fatal("Lost was not closed when renewals found the reservation lost")
		}
	})
}

// renewFails wraps a Store whose Renew finds the reservation lost once
// fail is set.
type renewFails struct {
	idempotency.Store
	fail atomic.Bool
}

func (s *renewFails) Renew(ctx context.Context, key, token string, lease time.Duration) error {
	if s.fail.Load() {
		return fmt.Errorf("renewFails: %w", idempotency.ErrReservationLost)
	}
	return s.Store.Renew(ctx, key, token, lease)
}

// TestLeaseNotInPassThrough: a request the middleware does not protect has
// no lease.
func TestLeaseNotInPassThrough(t *testing.T) {
	h := idemtest.NewMiddleware(t, newMem(t)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := idempotency.LeaseFromContext(r.Context()); ok {
			t.Error("a lease for a request without a key")
		}
	}))
	serve(h, request("POST", "/orders", "", "x"))
	serve(h, request("GET", "/orders", "k", ""))
}

// TestSeal covers the hand-over to a transactional store: the record is
// the response so far, a second Seal fails, and when the handler returns
// the key is released if the transaction did not record it.
func TestSeal(t *testing.T) {
	store := newMem(t)
	var sealed *idempotency.Record
	h := idemtest.NewMiddleware(t, store).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l, _ := idempotency.LeaseFromContext(r.Context())
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("order 1"))
		var err error
		if sealed, err = l.Seal(nil); err != nil {
			t.Errorf("Seal: %v", err)
		}
		if _, err := l.Seal(nil); !errors.Is(err, idempotency.ErrReservationLost) {
			t.Errorf("second Seal error = %v, want ErrReservationLost", err)
		}
		_, _ = w.Write([]byte(" and more")) // not recorded
		// The transaction that would store sealed rolls back: nothing is recorded.
	}))
	if w := serve(h, request("POST", "/orders", "k", "")); w.Code != http.StatusCreated {
		t.Fatalf("status %d", w.Code)
	}
	if sealed == nil || sealed.StatusCode != http.StatusCreated || string(sealed.Body) != "order 1" {
		t.Fatalf("sealed record %+v, want 201 \"order 1\"", sealed)
	}
	// Released: the next request with the key runs again.
	res, err := store.Reserve(context.Background(), "k", "any", "t", time.Minute)
	if err != nil || res.State != idempotency.StateReserved {
		t.Fatalf("after an uncommitted seal: %v, %v; want the key free", res.State, err)
	}
}

// TestWaitEndsBeforeTimeLimit: a request that waits for an in-flight key
// gives up before its own time limit and answers 409 itself, instead of
// being cut by the limit (a 503 from Lifeline) while it waits.
func TestWaitEndsBeforeTimeLimit(t *testing.T) {
	const limit = 2 * time.Second
	p := pooltest.New(t, lifeline.WithTimeLimit(limit))
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	started := make(chan struct{}, 1)
	h := idemtest.NewMiddleware(t, newMem(t), idempotency.WithWait(time.Minute)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	ts := idemtest.StartLifeline(t, p, h)
	go func() {
		req, _ := http.NewRequest("POST", ts.URL+"/orders", nil)
		req.Header.Set("Idempotency-Key", "k")
		if resp, err := ts.Client().Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	req, _ := http.NewRequest("POST", ts.URL+"/orders", nil)
	req.Header.Set("Idempotency-Key", "k")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("waiter got %d (Retry-After %q), want 409 with Retry-After before its %v time limit", resp.StatusCode, resp.Header.Get("Retry-After"), limit)
	}
}

// TestWaitThenRunGetsItsTimeLimit: a request that waited for a run that
// then failed (and released the key) runs itself with a time limit started
// afresh, not with what the wait left of it.
func TestWaitThenRunGetsItsTimeLimit(t *testing.T) {
	const limit = 3 * time.Second // the waiter waits until 2s, one second before it
	p := pooltest.New(t, lifeline.WithTimeLimit(limit))
	var calls atomic.Int64
	firstStarted, failFirst := make(chan struct{}), make(chan struct{})
	h := idemtest.NewMiddleware(t, newMem(t), idempotency.WithWait(time.Minute)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		if calls.Add(1) == 1 {
			close(firstStarted)
			<-failFirst
			w.WriteHeader(http.StatusServiceUnavailable) // a 5xx releases the key
			return
		}
		// The waiter: it needs more than what its first limit has left.
		if _, left := rn.TimeLimit(); left < limit-500*time.Millisecond {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "time left %v", left)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	ts := idemtest.StartLifeline(t, p, h)
	send := func() (int, string) {
		req, _ := http.NewRequest("POST", ts.URL+"/orders", nil)
		req.Header.Set("Idempotency-Key", "k")
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	first := make(chan int, 1)
	go func() { code, _ := send(); first <- code }()
	<-firstStarted
	waiter := make(chan string, 1)
	go func() { code, body := send(); waiter <- fmt.Sprint(code, " ", body) }()
	// Let the waiter spend most of its limit waiting, then fail the first
	// run. The waiter polls the store; this only sets when the key frees.
	time.Sleep(limit / 2)
	close(failFirst)
	if code := <-first; code != http.StatusServiceUnavailable {
		t.Fatalf("first run: %d", code)
	}
	if got := <-waiter; got != "201 " {
		t.Fatalf("the waiter, after the key was released: %q, want 201 with its time limit started again", got)
	}
}
