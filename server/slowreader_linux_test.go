package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/netns"
	"github.com/lifeline-go/lifeline/internal/testcert"
	"github.com/lifeline-go/lifeline/server"
)

// Issue 13 §1: a slow reader is alive, not a silent peer. A client that keeps
// its connection open and acknowledges, but reads slowly or pauses (a phone
// on a weak link, a paused download), must receive every byte, and its run
// must end Normal. Before the fix, TCP_USER_TIMEOUT (7/8 of the dead-peer
// timeout) cut such clients after 4 to 8 s with CauseSilentPeer: since Linux
// 5.11 it also aborts a connection whose receive window stays zero that long,
// although the peer answers every window probe.

// lineLen is the length of one line of a streamed body.
const lineLen = 64

// body writes size bytes of numbered lines, chunk bytes at a time, flushed,
// with every between two chunks (0: as fast as the client takes them).
func body(chunk int, every time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		size, err := strconv.Atoi(r.URL.Query().Get("size"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(size))
		rc := http.NewResponseController(w)
		var tick *time.Ticker
		if every > 0 {
			tick = time.NewTicker(every)
			defer tick.Stop()
		}
		for off := 0; off < size; off += chunk {
			if tick != nil && off > 0 {
				<-tick.C
			}
			if _, err := w.Write(lines(off, min(chunk, size-off))); err != nil {
				return
			}
			_ = rc.Flush()
		}
	})
}

// lines returns n bytes of the body at offset off: numbered lines of lineLen
// bytes, so that a lost or repeated byte shows.
func lines(off, n int) []byte {
	var b bytes.Buffer
	for i := off / lineLen; b.Len() < off%lineLen+n; i++ {
		fmt.Fprintf(&b, "%08d %s\n", i, strings.Repeat("x", lineLen-10))
	}
	return b.Bytes()[off%lineLen : off%lineLen+n]
}

// pacer reads from r at the pace of its schedule: each Read takes at most
// chunk bytes and, while the schedule says so, waits first. pace returns the
// largest read and the wait before it, given the bytes read and the time
// since the first read.
type pacer struct {
	r     io.Reader
	pace  func(read int64, since time.Duration) (chunk int, wait time.Duration)
	read  int64
	start time.Time
}

func (p *pacer) Read(b []byte) (int, error) {
	if p.start.IsZero() {
		p.start = time.Now()
	}
	chunk, wait := p.pace(p.read, time.Since(p.start))
	if wait > 0 {
		time.Sleep(wait) // the client's own pace, not synchronisation
	}
	if chunk > 0 && len(b) > chunk {
		b = b[:chunk]
	}
	n, err := p.r.Read(b)
	p.read += int64(n)
	return n, err
}

// steady reads chunk bytes every interval for the first d, then at full
// speed.
func steady(chunk int, every, d time.Duration) func(int64, time.Duration) (int, time.Duration) {
	return func(_ int64, since time.Duration) (int, time.Duration) {
		if since >= d {
			return 0, 0
		}
		return chunk, every
	}
}

// pauseAt reads at full speed up to at bytes, waits d once, then reads at
// full speed again.
func pauseAt(at int64, d time.Duration) func(int64, time.Duration) (int, time.Duration) {
	paused := false
	return func(read int64, _ time.Duration) (int, time.Duration) {
		switch {
		case read < at:
			return int(at - read), 0
		case !paused:
			paused = true
			return 0, d
		}
		return 0, 0
	}
}

// checkBody reads an answer of size bytes from r and reports what is wrong
// with it.
func checkBody(r io.Reader, size int) error {
	got, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("after %d of %d bytes: %w", len(got), size, err)
	}
	if len(got) != size {
		return fmt.Errorf("got %d bytes, want %d", len(got), size)
	}
	if want := lines(0, size); !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && got[i] == want[i] {
			i++
		}
		return fmt.Errorf("body differs from byte %d on", i)
	}
	return nil
}

// slowHTTP1 sends reqs pipelined on one connection from inside ns and reads
// the answers through a pacer. rcvbuf > 0 sets the client's SO_RCVBUF. It
// returns the body bytes received; the connection stays open until the test
// ends.
func slowHTTP1(t *testing.T, ns *netns.Pair, addr string, reqs []string, size, rcvbuf int, pace func(int64, time.Duration) (int, time.Duration)) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := ns.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	// Closed when the test ends, after the runs were recorded: a FIN before
	// the run ends would abort it.
	t.Cleanup(func() { c.Close() })
	if rcvbuf > 0 {
		if err := c.(*net.TCPConn).SetReadBuffer(rcvbuf); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	for _, uri := range reqs {
		fmt.Fprintf(&out, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", uri, addr)
	}
	if _, err := c.Write(out.Bytes()); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second)) // a safety net
	p := &pacer{r: c, pace: pace}
	br := bufio.NewReaderSize(p, 4<<10)
	var total int64
	for i, uri := range reqs {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d (%s): %v after %d body bytes", i, uri, err, total)
		}
		cr := &countingReader{r: resp.Body}
		err = checkBody(cr, size)
		total += cr.n
		resp.Body.Close()
		if err != nil {
			t.Fatalf("answer %d (%s): %v", i, uri, err)
		}
	}
	return total
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// waitRecords waits until pool has recorded a run for every URI in uris and
// returns those records.
func waitRecords(t *testing.T, pool *lifeline.Pool, uris []string) map[string]lifeline.Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := make(map[string]lifeline.Record)
		for _, rec := range pool.Recent() {
			got[rec.URI] = rec
		}
		all := true
		for _, u := range uris {
			if _, ok := got[u]; !ok {
				all = false
			}
		}
		if all {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("records for %v not all there after 10s: %v", uris, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkMTU makes sure the namespace's link has a realistic MTU of 1500.
func checkMTU(t *testing.T, ns *netns.Pair) {
	t.Helper()
	out, err := ns.Exec("ip", "link", "show", ns.PeerLink)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("mtu 1500 ")) {
		if _, err := ns.Exec("ip", "link", "set", ns.PeerLink, "mtu", "1500"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSlowReaderHTTP1 serves slow and pausing HTTP/1 readers with the default
// dead-peer timeout (4 s), each well past the point where TCP_USER_TIMEOUT
// used to cut it, and checks that each receives every byte and that its runs
// end Normal.
func TestSlowReaderHTTP1(t *testing.T) {
	tests := []struct {
		name    string
		handler http.Handler
		size    int // per answer
		answers int // pipelined on one connection
		rcvbuf  int
		pace    func(int64, time.Duration) (int, time.Duration)
	}{
		{
			// Cut at 7 s before the fix.
			name:    "1KiB every 60ms, two pipelined 1MiB answers",
			handler: body(32<<10, 0),
			size:    1 << 20,
			answers: 2,
			pace:    steady(1<<10, 60*time.Millisecond, 12*time.Second),
		},
		{
			// Cut at 7.5 s before the fix.
			name:    "8KiB every 0.5s",
			handler: body(32<<10, 0),
			size:    1 << 20,
			answers: 1,
			pace:    steady(8<<10, 500*time.Millisecond, 12*time.Second),
		},
		{
			// Cut at 4.0 s before the fix.
			name:    "SO_RCVBUF 32KiB, one line of a 64KiB-every-50ms stream, pause 10s",
			handler: body(64<<10, 50*time.Millisecond),
			size:    2 << 20,
			answers: 1,
			rcvbuf:  32 << 10,
			pace:    pauseAt(lineLen, 10*time.Second),
		},
		{
			name:    "pause 10s mid-body",
			handler: body(32<<10, 0),
			size:    4 << 20,
			answers: 1,
			pace:    pauseAt(1<<20, 10*time.Second),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ns := netns.New(t)
			checkMTU(t, ns)
			log, _ := testLogger(t)
			pool := newPool(t, log, lifeline.WithTimeLimit(0), lifeline.WithStallTimeout(0))
			srv := start(t, pool, pool.Middleware()(tt.handler),
				server.WithAddr(netip.AddrPortFrom(ns.HostAddr, 0).String()),
				server.WithLogger(log), server.WithDrainTimeout(time.Second))
			var uris []string
			for i := range tt.answers {
				uris = append(uris, fmt.Sprintf("/?size=%d&n=%d", tt.size, i))
			}
			begin := time.Now()
			got := slowHTTP1(t, ns, srv.addr, uris, tt.size, tt.rcvbuf, tt.pace)
			t.Logf("received %d body bytes in %v", got, time.Since(begin).Round(time.Millisecond))
			for uri, rec := range waitRecords(t, pool, uris) {
				if rec.Status != lifeline.Normal || rec.Cause != lifeline.CauseNone {
					t.Errorf("run %s: Status %v, Cause %v; want Normal", uri, rec.Status, rec.Cause)
				}
			}
		})
	}
}

// TestSlowReaderHTTP2 serves a slow and pausing HTTP/2 reader over TLS: the
// client reads 8 KiB every 0.5 s for 6 s, pauses 8 s, then reads the rest.
// It must receive every byte, and its run must end Normal.
func TestSlowReaderHTTP2(t *testing.T) {
	t.Parallel()
	ns := netns.New(t)
	checkMTU(t, ns)
	log, _ := testLogger(t)
	pool := newPool(t, log, lifeline.WithTimeLimit(0), lifeline.WithStallTimeout(0))
	cert, roots := testcert.New(t)
	srv := start(t, pool, pool.Middleware()(body(32<<10, 0)),
		server.WithAddr(netip.AddrPortFrom(ns.HostAddr, 0).String()),
		server.WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}}),
		server.WithLogger(log), server.WithDrainTimeout(time.Second))
	tr := h2Transport(ns.DialContext, roots)
	defer tr.CloseIdleConnections()
	const size = 8 << 20
	uri := fmt.Sprintf("/?size=%d", size)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "https://"+srv.addr+uri, nil)
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("served over %s, want HTTP/2", resp.Proto)
	}
	slow := steady(8<<10, 500*time.Millisecond, 6*time.Second)
	pause := pauseAt(0, 8*time.Second)
	p := &pacer{r: resp.Body, pace: func(read int64, since time.Duration) (int, time.Duration) {
		if since < 6*time.Second {
			return slow(read, since)
		}
		return pause(0, since)
	}}
	cr := &countingReader{r: p}
	if err := checkBody(cr, size); err != nil {
		t.Fatal(err)
	}
	t.Logf("received %d body bytes in %v", cr.n, time.Since(begin).Round(time.Millisecond))
	rec := waitRecords(t, pool, []string{uri})[uri]
	if rec.Status != lifeline.Normal || rec.Cause != lifeline.CauseNone {
		t.Errorf("run %s: Status %v, Cause %v; want Normal", uri, rec.Status, rec.Cause)
	}
}

// h2Transport returns a transport that speaks HTTP/2 over TLS only, trusting
// roots, whose certificate is for 127.0.0.1 whatever address it dials.
func h2Transport(dial func(ctx context.Context, network, addr string) (net.Conn, error), roots *x509.CertPool) *http.Transport {
	var p http.Protocols
	p.SetHTTP2(true)
	return &http.Transport{
		Protocols:         &p,
		DialContext:       dial,
		ForceAttemptHTTP2: true,
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"},
	}
}
