package lifeline_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/cstest"
)

// verdicts collects the EventDelivery of every run, in order.
type verdicts struct {
	mu  sync.Mutex
	got []lifeline.Delivery
}

func (v *verdicts) event(ev lifeline.Event) {
	if ev.Kind != lifeline.EventDelivery {
		return
	}
	v.mu.Lock()
	v.got = append(v.got, ev.Delivery)
	v.mu.Unlock()
}

func (v *verdicts) list() []lifeline.Delivery {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]lifeline.Delivery(nil), v.got...)
}

// TestShutdownPendingDelivery: a run that finished early and ended while
// its client, which reads nothing, had not acknowledged the answer, still
// has its delivery verdict reported to WithRunEvent before Shutdown
// returns: the client's reset while Shutdown waits decides it
// undelivered; a Shutdown whose ctx ends first decides it unknown and
// says so.
func TestShutdownPendingDelivery(t *testing.T) {
	skipUnlessLinux(t)
	tests := []struct {
		name    string
		wait    time.Duration // Shutdown's ctx
		reset   bool          // the client resets its connection once Shutdown has begun
		want    lifeline.Delivery
		wantErr error
	}{
		{"client resets during shutdown", 20 * time.Second, true, lifeline.Undelivered, nil},
		{"shutdown's ctx ends first", 300 * time.Millisecond, false, lifeline.DeliveryUnknown, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v verdicts
			p := newPool(t, lifeline.WithRunEvent(v.event))
			ts := cstest.Start(t, cstest.H1, p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				finishStalling(w, r) // and end at once: the verdict comes after the run's end
			})), func(s *http.Server) {
				// A dead-peer timeout longer than the test: only the
				// client's reset or Shutdown decides.
				p.ConfigureServerWith(s, lifeline.ServerConfig{DeadPeerTimeout: time.Minute})
			})
			_, tcp := dialStalled(t, ts, cstest.H1)
			rec := p.NextRecord()
			if !rec.Finished || rec.Delivery != lifeline.DeliveryPending {
				t.Fatalf("record: finished %v, delivery %v; want an early answer still pending", rec.Finished, rec.Delivery)
			}
			ctx, cancel := context.WithTimeout(context.Background(), tt.wait)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- p.Shutdown(ctx) }()
			if tt.reset {
				tcp.SetLinger(0)
				tcp.Close() // unread data: a reset
			}
			err := <-done
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Shutdown = %v, want %v", err, tt.wantErr)
			}
			if got := v.list(); len(got) != 1 || got[0] != tt.want {
				t.Errorf("EventDelivery verdicts by Shutdown's return: %v, want [%v]", got, tt.want)
			}
		})
	}
}
