package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// An order survives its client leaving, marked unconfirmed; one whose client
// gets the answer is confirmed once the answer was delivered, which is after
// the client has it (seed: pulstar's order script, Lee's "card charged but
// not in my DB"; issue 14).
func TestOrder(t *testing.T) {
	eachProtocol(t, func(t *testing.T, ts *testServer, c *http.Client) {
		t.Run("confirmed", func(t *testing.T) {
			resp := do(t, c, http.MethodPost, ts.base+"/demo/order?work=40ms&ref=stays", nil)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("answer: %s %s, want 201", resp.Status, resp.body)
			}
			var ord order
			var ok bool
			eventually(t, 10*time.Second, "the order to be settled", func() bool {
				ord, ok = findOrder(t, ts, "stays")
				return ok && ord.State != statePlaced
			})
			if !ok || ord.State != stateConfirmed || len(ord.Items) != orderItems || ord.Status != "normal" {
				t.Errorf("order = %+v (found %v), want confirmed with %d items, status normal", ord, ok, orderItems)
			}
		})
		t.Run("client leaves", func(t *testing.T) {
			leaveOrder(t, ts, c, "leaves", nil)
			var ord order
			eventually(t, 10*time.Second, "the order to be settled", func() bool {
				var ok bool
				ord, ok = findOrder(t, ts, "leaves")
				return ok && ord.State != statePlaced
			})
			if ord.State != stateUnconfirmed || len(ord.Items) != orderItems || ord.Status != "aborted" {
				t.Errorf("order = %+v, want unconfirmed with all %d items, status aborted", ord, orderItems)
			}
		})
		t.Run("ref taken", func(t *testing.T) {
			resp := do(t, c, http.MethodPost, ts.base+"/demo/order?work=0s&ref=stays", nil)
			if resp.StatusCode != http.StatusConflict || !strings.Contains(resp.body, "already exists") {
				t.Errorf("answer: %s %s, want 409 already exists", resp.Status, resp.body)
			}
			if ord, _ := findOrder(t, ts, "stays"); ord.State != stateConfirmed {
				t.Errorf("the first order became %q", ord.State)
			}
		})
	}, "-status-query-strings") // the runs are found by their query
}

// Requests with one Idempotency-Key place one order, even when they race;
// the second answer is the first one replayed.
func TestOrderIdempotencyKey(t *testing.T) {
	eachProtocol(t, func(t *testing.T, ts *testServer, c *http.Client) {
		hdr := http.Header{"Idempotency-Key": {"double-click-1"}}
		var wg sync.WaitGroup
		answers := make([]response, 2)
		for i := range answers {
			wg.Go(func() {
				var err error
				if answers[i], err = tryDo(c, http.MethodPost, ts.base+"/demo/order?work=200ms", hdr); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		replayed := 0
		for _, a := range answers {
			if a.StatusCode != http.StatusCreated {
				t.Errorf("answer: %s %s, want 201", a.Status, a.body)
			}
			if a.Header.Get("Idempotent-Replayed") == "true" {
				replayed++
			}
		}
		if answers[0].body != answers[1].body || replayed != 1 {
			t.Errorf("answers differ or %d of 2 replayed (want 1):\n%s\n%s", replayed, answers[0].body, answers[1].body)
		}
		if list := orderList(t, ts); len(list) != 1 {
			t.Errorf("%d orders placed, want 1: %+v", len(list), list)
		}
	})
}

// An order cut by the time limit is rolled back: nothing of it is written,
// and it is recorded as failed.
func TestOrderTimeLimit(t *testing.T) {
	ts := startServer(t, "-time-limit", "150ms")
	c := newClient(t, "HTTP/1.1")
	resp := do(t, c, http.MethodPost, ts.base+"/demo/order?work=5s&ref=slow", nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("answer: %s %s, want 503", resp.Status, resp.body)
	}
	ord, ok := findOrder(t, ts, "slow")
	if !ok || ord.State != stateFailed || len(ord.Items) != 0 || ord.Reason != "time limit" || ord.Status != "timeout" {
		t.Errorf("order = %+v (found %v), want failed, no items, reason time limit, status timeout", ord, ok)
	}
}

// The index page's order form posts its fields in the body; a blank ref
// gets a new one.
func TestOrderForm(t *testing.T) {
	ts := startServer(t)
	c := newClient(t, "HTTP/1.1")
	resp, err := c.PostForm(ts.base+"/demo/order", map[string][]string{"work": {"10ms"}, "ref": {""}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans struct{ Order order }
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("answer: %s, %v", resp.Status, err)
	}
	if !strings.HasPrefix(ans.Order.Ref, "R-") || ans.Order.Work != "10ms" {
		t.Errorf("order = %+v, want a new R- ref and 10ms of work", ans.Order)
	}
}

// An order whose client left is unconfirmed; the client's retry with the
// same Idempotency-Key is replayed the original answer, and that replay's
// delivery confirms the order (issue 14). On both databases.
func TestOrderConfirmedByReplay(t *testing.T) {
	eachDatabase(t, func(t *testing.T, flags []string) {
		ts := startServer(t, append(flags, "-status-query-strings")...)
		c := newClient(t, "HTTP/1.1")
		hdr := http.Header{"Idempotency-Key": {"replay-1"}}
		leaveOrder(t, ts, c, "RP", hdr)
		var ord order
		eventually(t, 10*time.Second, "the order to be unconfirmed", func() bool {
			ord, _ = findOrder(t, ts, "RP")
			return ord.State == stateUnconfirmed
		})
		resp := do(t, c, http.MethodPost, ts.base+"/demo/order?work=400ms&ref=RP", hdr)
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry: %s, Idempotent-Replayed %q; want the 201 replayed", resp.Status, resp.Header.Get("Idempotent-Replayed"))
		}
		eventually(t, 20*time.Second, "the order to be confirmed by the replay and emailed", func() bool {
			ord, _ = findOrder(t, ts, "RP")
			return ord.State == stateConfirmed && ord.Emails > 0
		})
		if ord.Reason != "answer delivered by an idempotent replay" || ord.Emails != 1 {
			t.Errorf("order = %+v, want confirmed by the replay, one email", ord)
		}
	})
}

// leaveOrder posts an order of 400ms of work labelled ref, with hdr, and
// leaves while it is processed, as a visitor who clicks Stop. The server
// must run with -status-query-strings (the run is found by its query).
func leaveOrder(t *testing.T, ts *testServer, c *http.Client, ref string, hdr http.Header) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.base+"/demo/order?work=400ms&ref="+ref, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	errc := make(chan error, 1)
	go func() {
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitActive(t, ts, "order", func(r runJSON) bool { return strings.Contains(r.URI, "ref="+ref) })
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("the request succeeded; it should have been cancelled")
	}
}
