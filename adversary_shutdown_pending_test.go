package lifeline_test

import (
	"context"
	"net/http"
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
