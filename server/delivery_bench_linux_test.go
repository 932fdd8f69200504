package server_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/netns"
	"github.com/lifeline-go/lifeline/internal/testcert"
	"github.com/lifeline-go/lifeline/server"
)

// BenchmarkDeliveryLatency measures how long after its answer is written a
// run learns that it was delivered: from Finish's return (the run's last
// byte handed to the connection) to AwaitDelivery's Delivered, and from
// the client's reading the last byte to it, p50 and p99, for a 16 KB answer
// over HTTP/1 and HTTP/2 (TLS), on loopback, across a network namespace's
// veth link, and across that link limited to 16 Mbit/s (tc tbf). Each
// iteration is one request on a keep-alive connection.
//
//	go test -run XXX -bench BenchmarkDeliveryLatency -benchtime 300x ./server/
func BenchmarkDeliveryLatency(b *testing.B) {
	links := []struct {
		name  string
		shape []string // tc qdisc on the link; nil: loopback
	}{
		{"loopback", nil},
		{"veth", []string{}},
		{"veth-16mbit", []string{"tbf", "rate", "16mbit", "burst", "32kbit", "latency", "500ms"}},
	}
	for _, link := range links {
		for _, h2 := range []bool{false, true} {
			name := link.name + "/h1"
			if h2 {
				name = link.name + "/h2"
			}
			b.Run(name, func(b *testing.B) {
				addr := netip.MustParseAddr("127.0.0.1")
				dial := (&net.Dialer{}).DialContext
				if link.shape != nil {
					ns := netns.New(b)
					if len(link.shape) > 0 {
						shape(b, ns, link.shape...)
					}
					addr, dial = ns.HostAddr, ns.DialContext
				}
				benchDeliveryLatency(b, addr, dial, h2)
			})
		}
	}
}

func benchDeliveryLatency(b *testing.B, addr netip.Addr, dial func(context.Context, string, string) (net.Conn, error), h2 bool) {
	log, _ := testLogger(b)
	pool := newPool(b, log)
	type result struct{ finished, delivered time.Time }
	got := make(chan result, 1)
	body := strings.Repeat("l", 16<<10)
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		io.WriteString(w, body)
		rn.Finish()
		var res result
		res.finished = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if d, _ := rn.AwaitDelivery(ctx); d != lifeline.Delivered {
			b.Errorf("delivery %v", d)
		}
		res.delivered = time.Now()
		got <- res
	}))
	opts := []server.Option{server.WithAddr(netip.AddrPortFrom(addr, 0).String()), server.WithLogger(log)}
	tr := &http.Transport{DialContext: dial}
	scheme := "http://"
	if h2 {
		cert, _ := testcert.New(b)
		opts = append(opts, server.WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}}))
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		tr.ForceAttemptHTTP2 = true
		scheme = "https://"
	}
	srv := start(b, pool, h, opts...)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	get := func() (lastByte time.Time) {
		resp, err := client.Get(scheme + srv.addr)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		lastByte = time.Now()
		resp.Body.Close()
		return lastByte
	}
	get()
	<-got
	var fromFinish, fromRead []time.Duration
	for b.Loop() {
		last := get()
		r := <-got
		fromFinish = append(fromFinish, r.delivered.Sub(r.finished))
		fromRead = append(fromRead, r.delivered.Sub(last))
	}
	b.ReportMetric(0, "ns/op")
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"finish", fromFinish}, {"read", fromRead}} {
		slices.Sort(m.d)
		b.ReportMetric(float64(m.d[len(m.d)/2].Microseconds()), m.name+"-p50-µs")
		b.ReportMetric(float64(m.d[len(m.d)*99/100].Microseconds()), m.name+"-p99-µs")
	}
}
