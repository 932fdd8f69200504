package server_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/h2raw"
	"github.com/lifeline-go/lifeline/internal/netns"
	"github.com/lifeline-go/lifeline/internal/testcert"
	"github.com/lifeline-go/lifeline/output"
	"github.com/lifeline-go/lifeline/server"
)

// verdict is a run's delivery and when it was known.
type verdict struct {
	d          lifeline.Delivery
	start, at  time.Time // the handler's start, the verdict
	finishedAt time.Time // Finish returned
}

// deliveryServer serves, on ns's host address, a handler that answers size
// bytes early (the seed's recipe: ignore user aborts, buffer the whole
// answer, Finish) and reports its delivery on the returned channel. h2
// serves HTTP/2 over TLS (HTTP/1 otherwise).
func deliveryServer(t *testing.T, ns *netns.Pair, size int, h2 bool) (addr string, got <-chan verdict) {
	t.Helper()
	log, _ := testLogger(t)
	pool := newPool(t, log)
	ch := make(chan verdict, 1)
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := verdict{start: time.Now()}
		rn, _ := lifeline.FromContext(r.Context())
		rn.IgnoreUserAbort(true)
		rn.Output().Start(nil, 0, output.StdFlags)
		io.WriteString(w, strings.Repeat("s", size))
		rn.Finish()
		v.finishedAt = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		v.d, _ = rn.AwaitDelivery(ctx)
		v.at = time.Now()
		ch <- v
	}))
	opts := []server.Option{server.WithAddr(netip.AddrPortFrom(ns.HostAddr, 0).String()),
		server.WithLogger(log), server.WithDrainTimeout(time.Second)}
	if h2 {
		cert, _ := testcert.New(t)
		opts = append(opts, server.WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}}))
	}
	return start(t, pool, h, opts...).addr, ch
}

// readAll fetches GET / from addr through ns, over HTTP/2 with TLS or
// HTTP/1, reads the whole body and returns when its last byte was read.
func readAll(t *testing.T, ns *netns.Pair, addr string, h2 bool) time.Time {
	t.Helper()
	tr := &http.Transport{DialContext: ns.DialContext}
	url := "http://" + addr
	if h2 {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		tr.ForceAttemptHTTP2 = true
		url = "https://" + addr
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if want := map[bool]int{false: 1, true: 2}[h2]; resp.ProtoMajor != want {
		t.Fatalf("HTTP/%d, want HTTP/%d", resp.ProtoMajor, want)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	return time.Now()
}

// headersOnly sends GET / to addr through ns and returns once the
// response's header arrived, reading nothing more: HTTP/1 by hand, or
// HTTP/2 over TLS with hand-made frames (so that no client library reads
// the body in the background).
func headersOnly(t *testing.T, ns *netns.Pair, addr string, h2 bool) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ns.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if h2 {
		c = tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	}
	if err := h2raw.GetHeaderOnly(c, h2, true); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDeliverySilentPeer: a client whose packets are dropped after the
// header of an early answer arrived never gets the rest: the run learns
// that it was undelivered within the dead-peer timeout of the cut, from the
// socket. A client across the same link that reads it all has it
// delivered. Over HTTP/1 and HTTP/2 (TLS).
func TestDeliverySilentPeer(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		for _, cut := range []bool{false, true} {
			t.Run(fmt.Sprintf("h2=%v/cut=%v", h2, cut), func(t *testing.T) {
				t.Parallel()
				ns := netns.New(t)
				addr, got := deliveryServer(t, ns, 4<<20, h2)
				want := lifeline.Delivered
				var cutAt time.Time
				if cut {
					headersOnly(t, ns, addr, h2)
					if err := ns.Cut(); err != nil {
						t.Fatal(err)
					}
					cutAt = time.Now()
					want = lifeline.Undelivered
				} else {
					readAll(t, ns, addr, h2)
				}
				v := <-got
				if v.d != want {
					t.Errorf("AwaitDelivery = %v, want %v", v.d, want)
				}
				if cut {
					after := v.at.Sub(cutAt)
					t.Logf("undelivered known %v after the cut", after.Round(time.Millisecond))
					if after > server.DefaultDeadPeerTimeout+2*time.Second {
						t.Errorf("undelivered known %v after the cut, want within the dead-peer timeout (%v) and a check", after, server.DefaultDeadPeerTimeout)
					}
				}
			})
		}
	}
}

// TestDeliverySlowLink: a large answer over a slow link (16 Mbit/s, a tc
// token bucket on the server's side of the link) is delivered, and never
// before the link could have carried it: the verdict comes no sooner than
// size/rate after the handler began to write. Over HTTP/1 and HTTP/2 (TLS).
func TestDeliverySlowLink(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprint("h2=", h2), func(t *testing.T) {
			t.Parallel()
			ns := netns.New(t)
			const (
				size = 2 << 20
				rate = 16e6 // bits per second
			)
			shape(t, ns, "tbf", "rate", "16mbit", "burst", "32kbit", "latency", "500ms")
			addr, got := deliveryServer(t, ns, size, h2)
			lastByte := readAll(t, ns, addr, h2)
			v := <-got
			if v.d != lifeline.Delivered {
				t.Fatalf("AwaitDelivery = %v, want delivered", v.d)
			}
			transfer := time.Duration(float64(size*8) / rate * float64(time.Second))
			t.Logf("delivered %v after the first write (the link needs %v), %v after the client read the last byte, %v after Finish returned",
				v.at.Sub(v.start).Round(time.Millisecond), transfer.Round(time.Millisecond),
				v.at.Sub(lastByte).Round(time.Millisecond), v.at.Sub(v.finishedAt).Round(time.Millisecond))
			if v.at.Sub(v.start) < transfer*9/10 {
				t.Errorf("delivered %v after the first write: sooner than the link can carry %d bytes (%v)", v.at.Sub(v.start), size, transfer)
			}
		})
	}
}

// shape puts a tc qdisc on the host end of ns's link: what the server sends
// goes through it.
func shape(tb testing.TB, ns *netns.Pair, qdisc ...string) {
	tb.Helper()
	args := append([]string{"qdisc", "add", "dev", ns.HostLink, "root"}, qdisc...)
	if out, err := exec.Command("tc", args...).CombinedOutput(); err != nil {
		tb.Fatalf("tc %s: %v: %s", strings.Join(args, " "), err, out)
	}
}
