package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/netns"
	"github.com/lifeline-go/lifeline/output"
	"github.com/lifeline-go/lifeline/server"
)

// TestDeliverySilentPeer: a client whose packets are dropped after the
// headers of an early answer arrived never gets the rest: the run learns
// that it was undelivered within the dead-peer timeout, from the socket
// (issue 14). A client across the same link that reads it all has it
// delivered.
func TestDeliverySilentPeer(t *testing.T) {
	for _, cut := range []bool{false, true} {
		t.Run(fmt.Sprint("cut=", cut), func(t *testing.T) {
			t.Parallel()
			ns := netns.New(t)
			log, _ := testLogger(t)
			pool := newPool(t, log)
			type result struct {
				d     lifeline.Delivery
				after time.Duration
			}
			got := make(chan result, 1)
			h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// The seed's recipe: ignore user aborts, buffer the whole
				// answer, send it early, then decide from its delivery.
				rn, _ := lifeline.FromContext(r.Context())
				rn.IgnoreUserAbort(true)
				rn.Output().Start(nil, 0, output.StdFlags)
				io.WriteString(w, strings.Repeat("s", 4<<20))
				rn.Finish()
				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				d, _ := rn.AwaitDelivery(ctx)
				got <- result{d, time.Since(start)}
			}))
			srv := start(t, pool, h, server.WithAddr(netip.AddrPortFrom(ns.HostAddr, 0).String()),
				server.WithLogger(log), server.WithDrainTimeout(time.Second))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := ns.DialContext(ctx, "tcp", srv.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			want := lifeline.Delivered
			if cut {
				if err := ns.Cut(); err != nil {
					t.Fatal(err)
				}
				want = lifeline.Undelivered
			} else {
				io.Copy(io.Discard, resp.Body)
			}
			r := <-got
			t.Logf("delivery %v after %v", r.d, r.after.Round(time.Millisecond))
			if r.d != want {
				t.Errorf("AwaitDelivery = %v, want %v", r.d, want)
			}
			if cut && r.after > server.DefaultDeadPeerTimeout+2*time.Second {
				t.Errorf("undelivered known after %v, want within the dead-peer timeout (%v) and a check", r.after, server.DefaultDeadPeerTimeout)
			}
		})
	}
}
