package lifelineotel_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/cstest"
	"github.com/lifeline-go/lifeline/internal/h2raw"
	lifelineotel "github.com/lifeline-go/lifeline/otel"
)

// TestShutdownEndsPendingSpan: the span of a run that answered early and
// ended while its client, which reads nothing and so does not acknowledge
// the answer, held the delivery undecided is ended by the pool's Shutdown,
// with the verdict as attribute and event: undelivered when the client
// resets while Shutdown waits, unknown when Shutdown's ctx ends first.
func TestShutdownEndsPendingSpan(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("delivery is read from the socket on Linux only")
	}
	tests := []struct {
		name    string
		wait    time.Duration // Shutdown's ctx
		reset   bool          // the client resets its connection once Shutdown has begun
		want    string
		wantErr error
	}{
		{"client resets during shutdown", 20 * time.Second, true, "undelivered", nil},
		{"shutdown's ctx ends first", 300 * time.Millisecond, false, "unknown", context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, sr, _, p := setup(t, nil)
			ts := cstest.Start(t, cstest.H1, p.Middleware()(tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rn, _ := lifeline.FromContext(r.Context())
				rn.IgnoreUserAbort(true)
				w.WriteHeader(http.StatusOK)
				http.NewResponseController(w).Flush()
				io.WriteString(w, strings.Repeat("s", 48<<10)) // more than the client's receive buffer
				rn.Finish()                                    // and end at once: the verdict comes after the run's end
			}))), func(s *http.Server) {
				// A dead-peer timeout longer than the test: only the
				// client's reset or Shutdown decides.
				p.ConfigureServerWith(s, lifeline.ServerConfig{DeadPeerTimeout: time.Minute})
			})
			c := dialStalled(t, ts.Listener.Addr().String())
			if rec := p.NextRecord(); !rec.Finished || rec.Delivery != lifeline.DeliveryPending {
				t.Fatalf("record: finished %v, delivery %v; want an early answer still pending", rec.Finished, rec.Delivery)
			}
			ctx, cancel := context.WithTimeout(context.Background(), tt.wait)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- p.Shutdown(ctx) }()
			if tt.reset {
				c.SetLinger(0)
				c.Close() // unread data: a reset
			}
			err := <-done
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Shutdown = %v, want %v", err, tt.wantErr)
			}
			run := runSpan(t, sr, "run GET")
			if got := attr(run, lifelineotel.AttrDelivery).AsString(); got != tt.want {
				t.Errorf("span's %s = %q, want %q", lifelineotel.AttrDelivery, got, tt.want)
			}
			if d, ok := event(run, lifelineotel.EventDelivery); !ok || eventAttr(d, lifelineotel.AttrDelivery).AsString() != tt.want {
				t.Errorf("delivery event %+v (found %v), want %q", d, ok, tt.want)
			}
		})
	}
}

// dialStalled connects to addr with a 4 KB receive buffer, asks GET / over
// HTTP/1.1, reads the response's header and then nothing more.
func dialStalled(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	nc, err := cstest.DialRecvBuf(addr, 4096)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if err := h2raw.GetHeaderOnly(nc, false, false); err != nil {
		t.Fatal(err)
	}
	return nc
}
