package server_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/cstest"
	"github.com/lifeline-go/lifeline/internal/h2raw"
	"github.com/lifeline-go/lifeline/server"
)

// TestDrainUndecidedDeliveryLogged: at the drain deadline no run is active,
// but an early answer's delivery is still undecided (its client reads
// nothing, and the dead-peer timeout is longer than the drain). Serve
// returns nil, since no run was cut, and the log says that the delivery was
// reported unknown, so the operator learns what the drain gave up on.
func TestDrainUndecidedDeliveryLogged(t *testing.T) {
	log, logs := testLogger(t)
	verdict := make(chan lifeline.Delivery, 1)
	pool := newPool(t, log, lifeline.WithRunEvent(func(ev lifeline.Event) {
		if ev.Kind == lifeline.EventDelivery {
			verdict <- ev.Delivery
		}
	}))
	body := bytes.Repeat([]byte("x"), 256<<10) // far more than the client's 4 KiB window lets through
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		_, _ = w.Write(body)
		_ = rn.Finish()
	}))
	srv := start(t, pool, h, server.WithLogger(log), server.WithDrainTimeout(300*time.Millisecond)) // the dead-peer timeout: 4s
	c, err := cstest.DialRecvBuf(srv.addr, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := h2raw.GetHeaderOnly(c, false, false); err != nil {
		t.Fatal(err)
	}
	if err := srv.stop(); err != nil {
		t.Errorf("Serve = %v, want nil: no run was cut", err)
	}
	if v := <-verdict; v != lifeline.DeliveryUnknown {
		t.Errorf("verdict = %v, want unknown (decided at the drain's deadline)", v)
	}
	waitLog(t, logs, "early answers was still undecided, reported unknown")
}
