package lifeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/cstest"
)

// TestShutdownNoDeadlineLiveStalledClient: a Shutdown with no deadline,
// after the http.Server's, ends on time although a live client (it
// acknowledges, its window is shut, it never reads) holds an early answer
// unacknowledged: the server's Shutdown closes the connection, and the
// verdict comes within the dead-peer timeout after that close; the run
// gets exactly one EventDelivery, unknown. Over HTTP/1, HTTP/2 over TLS and h2c.
func TestShutdownNoDeadlineLiveStalledClient(t *testing.T) {
	skipUnlessLinux(t)
	const deadPeer = 2 * time.Second
	for _, m := range cstest.Modes {
		t.Run(string(m), func(t *testing.T) {
			var v verdicts
			p := newPool(t, lifeline.WithRunEvent(v.event))
			ts := cstest.Start(t, m, p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				finishStalling(w, r)
			})), func(s *http.Server) {
				p.ConfigureServerWith(s, lifeline.ServerConfig{DeadPeerTimeout: deadPeer})
			})
			dialStalled(t, ts, m) // kept open, never read, until the test ends
			rec := p.NextRecord()
			if !rec.Finished || rec.Delivery != lifeline.DeliveryPending {
				t.Fatalf("record: finished %v, delivery %v; want an early answer still pending", rec.Finished, rec.Delivery)
			}
			start := time.Now()
			httpCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			httpDone := make(chan error, 1)
			go func() { httpDone <- ts.Config.Shutdown(httpCtx) }()
			poolDone := make(chan error, 1)
			go func() { poolDone <- p.Shutdown(context.Background()) }()
			bound := time.NewTimer(deadPeer + 5*time.Second)
			defer bound.Stop()
			select {
			case err := <-poolDone:
				if err != nil {
					t.Errorf("Shutdown = %v", err)
				}
			case <-bound.C:
				t.Fatalf("Shutdown with no deadline still waiting %v after it began (http.Server's Shutdown: %v)", time.Since(start), func() any {
					select {
					case err := <-httpDone:
						return err
					default:
						return "still waiting"
					}
				}())
			}
			t.Logf("%s: Shutdown returned after %v", m, time.Since(start).Round(time.Millisecond))
			if got := v.list(); len(got) != 1 || got[0] != lifeline.DeliveryUnknown {
				t.Errorf("EventDelivery verdicts by Shutdown's return: %v, want [unknown]: alive, it had not acknowledged the answer a dead-peer timeout after the close", got)
			}
		})
	}
}

// TestFinishAfterShutdownGaveUp: a run that ignores user aborts and tries
// to answer early (Finish) after a Shutdown whose ctx ended while it ran
// (it was cancelled with ErrServerShutdown) is terminated at its output,
// before Finish could arm a delivery: no EventDelivery, no tracking entry
// left, and a second Shutdown, with no deadline, returns at once.
func TestFinishAfterShutdownGaveUp(t *testing.T) {
	skipUnlessLinux(t)
	for _, m := range cstest.Modes {
		t.Run(string(m), func(t *testing.T) {
			var v verdicts
			p := newPool(t, lifeline.WithRunEvent(v.event))
			started, release := make(chan struct{}), make(chan struct{})
			reached := make(chan bool, 1)
			ts := cstest.Start(t, m, p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rn, _ := lifeline.FromContext(r.Context())
				rn.IgnoreUserAbort(true)
				close(started)
				<-release
				finished := false
				defer func() { reached <- finished }()
				_, _ = w.Write([]byte("answer"))
				_ = rn.Finish()
				finished = true
			})), func(s *http.Server) {
				p.ConfigureServerWith(s, lifeline.ServerConfig{DeadPeerTimeout: 2 * time.Second})
			})
			go func() {
				if resp, err := ts.Client.Get(ts.URL); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
			<-started
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			err := p.Shutdown(ctx)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Shutdown with a run active = %v, want DeadlineExceeded", err)
			}
			close(release)
			bound := time.NewTimer(10 * time.Second)
			defer bound.Stop()
			select {
			case finished := <-reached:
				if finished {
					t.Error("a run cancelled by Shutdown wrote and finished")
				}
			case <-bound.C:
				t.Fatal("the run did not end 10s after its release")
			}
			done := make(chan error, 1)
			go func() { done <- p.Shutdown(context.Background()) }()
			bound.Reset(10 * time.Second)
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("second Shutdown = %v", err)
				}
			case <-bound.C:
				t.Fatal("second Shutdown, no deadline, still waiting after 10s")
			}
			if got := v.list(); len(got) != 0 {
				t.Errorf("EventDelivery verdicts: %v, want none", got)
			}
			if rec := p.NextRecord(); rec.Finished || rec.Delivery != lifeline.DeliveryUnknown {
				t.Errorf("record: finished %v, delivery %v; want not finished, unknown", rec.Finished, rec.Delivery)
			}
		})
	}
}

// TestShutdownManyPendingDeliveries: 40 early answers held unacknowledged
// by live clients over HTTP/1 and HTTP/2, and a Shutdown whose ctx ends
// after 300 ms: Shutdown returns soon after its ctx, with an error that
// counts them, and every run gets exactly one EventDelivery, unknown.
func TestShutdownManyPendingDeliveries(t *testing.T) {
	skipUnlessLinux(t)
	for _, m := range []cstest.Mode{cstest.H1, cstest.H2} {
		t.Run(string(m), func(t *testing.T) {
			const n = 40
			var v verdicts
			p := newPool(t, lifeline.WithRunEvent(v.event))
			ts := cstest.Start(t, m, p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				finishStalling(w, r)
			})), func(s *http.Server) {
				p.ConfigureServerWith(s, lifeline.ServerConfig{DeadPeerTimeout: time.Minute})
			})
			for range n {
				dialStalled(t, ts, m)
			}
			for range n {
				if rec := p.NextRecord(); !rec.Finished || rec.Delivery != lifeline.DeliveryPending {
					t.Fatalf("record: finished %v, delivery %v; want an early answer still pending", rec.Finished, rec.Delivery)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := p.Shutdown(ctx)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Shutdown took %v with a 300ms ctx", d)
			}
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(fmt.Sprint(err), fmt.Sprintf("%d early answers", n)) {
				t.Errorf("Shutdown = %v, want DeadlineExceeded counting %d early answers", err, n)
			}
			got := v.list()
			unknown := 0
			for _, d := range got {
				if d == lifeline.DeliveryUnknown {
					unknown++
				}
			}
			if len(got) != n || unknown != n {
				t.Errorf("EventDelivery verdicts: %d, %d of them unknown; want %d, all unknown: %v", len(got), unknown, n, got)
			}
		})
	}
}
