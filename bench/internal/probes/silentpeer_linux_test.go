package probes

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/bench/internal/stats"
	"github.com/lifeline-go/lifeline/internal/netns"
	"github.com/lifeline-go/lifeline/server"
)

// silentSetup is one way of serving a silent-peer trial: it starts a
// server on ns's host address whose handler reports on pr, and returns the
// server's address.
type silentSetup struct {
	name  string
	h2c   bool
	serve func(b *testing.B, ns *netns.Pair, pr *probe, h2c bool) string
}

// probe is one trial's handler side: it reports when the request started
// and when the server noticed the client was gone.
type probe struct {
	started  chan struct{}
	detected chan time.Time
	once     sync.Once
	life     time.Duration // how long a handler waits at most
}

func newProbe(life time.Duration) *probe {
	return &probe{started: make(chan struct{}), detected: make(chan time.Time, 1), life: life}
}

func (p *probe) start() { p.once.Do(func() { close(p.started) }) }

// silent works without writing a byte until the request context is done.
func (p *probe) silent() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.start()
		t := time.NewTimer(p.life)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			p.detected <- time.Now()
		case <-t.C:
		}
	})
}

// writing streams 16 KiB every 5 ms, flushed, until the request context is
// done (Lifeline then stops the run at its next write).
func (p *probe) writing() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		context.AfterFunc(r.Context(), func() { p.detected <- time.Now() })
		chunk := bytes.Repeat([]byte("lifeline "), 16<<10/9)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		end := time.NewTimer(p.life)
		defer end.Stop()
		rc := http.NewResponseController(w)
		for {
			_, _ = w.Write(chunk)
			_ = rc.Flush()
			p.start()
			select {
			case <-tick.C:
			case <-end.C:
				return
			case <-r.Context().Done():
				return
			}
		}
	})
}

// serveLifeline serves with package server's defaults (dead-peer timeout,
// keep-alive, TCP_USER_TIMEOUT, HTTP/2 PING) and a pool with its defaults.
func serveLifeline(writing bool) func(*testing.B, *netns.Pair, *probe, bool) string {
	return func(b *testing.B, ns *netns.Pair, pr *probe, h2c bool) string {
		log := slog.New(slog.DiscardHandler)
		pool, err := lifeline.NewPool(lifeline.WithLogger(log))
		if err != nil {
			b.Fatal(err)
		}
		h := pr.silent()
		if writing {
			h = pr.writing()
		}
		s, err := server.New(pool, pool.Middleware()(h), server.WithAddr(netip.AddrPortFrom(ns.HostAddr, 0).String()),
			server.WithLogger(log), server.WithDrainTimeout(time.Second), server.WithH2C(h2c))
		if err != nil {
			b.Fatal(err)
		}
		ln, err := s.Listen(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Serve(ctx, ln) }()
		b.Cleanup(func() { cancel(); <-done })
		return ln.Addr().String()
	}
}

// serveNetHTTP serves with a bare http.Server on a plain net.Listen
// listener: Go's defaults.
func serveNetHTTP(b *testing.B, ns *netns.Pair, pr *probe, _ bool) string {
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ns.HostAddr, 0).String())
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: pr.silent()}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close(); <-done })
	return ln.Addr().String()
}

// silentClient sends one request from inside the namespace and reads the
// response until the benchmark ends.
func silentClient(b *testing.B, ns *netns.Pair, url string, h2c bool) {
	tr := &http.Transport{DialContext: ns.DialContext}
	if h2c {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b.Cleanup(func() { cancel(); <-done; tr.CloseIdleConnections() })
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		defer close(done)
		res, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}()
}

// BenchmarkSilentPeer measures P3: how long after a client vanishes (every
// packet to and from its network namespace dropped: no FIN, no RST) the
// handler's context is done, with package server's defaults, against a
// bare net/http server with Go's defaults. All trials of all setups run at
// once, each client in a namespace of its own. Series: lifeline-h1-silent,
// lifeline-h1-writing, lifeline-h2c-silent, nethttp-h1-silent, and cut (how
// long cutting the network took). Needs root.
func BenchmarkSilentPeer(b *testing.B) {
	setups := []silentSetup{
		{"lifeline-h1-silent", false, serveLifeline(false)},
		{"lifeline-h1-writing", false, serveLifeline(true)},
		{"lifeline-h2c-silent", true, serveLifeline(false)},
		{"nethttp-h1-silent", false, serveNetHTTP},
	}
	limit := *capFlag
	series := make([]stats.Series, len(setups))
	for i, st := range setups {
		series[i] = stats.Series{Name: st.name, Cap: limit}
	}
	// The clock of a trial starts before the cut (two iptables commands),
	// as the peer may be gone from the first one on: the figures include
	// the cut's own duration, kept in this series.
	cuts := stats.Series{Name: "cut"}
	for b.Loop() {
		type trial struct {
			setup int
			ns    *netns.Pair
			pr    *probe
		}
		var trials []trial
		for range *trialsFlag {
			for i, st := range setups {
				ns := netns.New(b)
				pr := newProbe(limit + 5*time.Second)
				addr := st.serve(b, ns, pr, st.h2c)
				silentClient(b, ns, "http://"+addr+"/", st.h2c)
				trials = append(trials, trial{i, ns, pr})
			}
		}
		type result struct {
			setup int
			d     time.Duration
			cut   time.Duration // how long Cut took
			err   error
		}
		results := make(chan result, len(trials))
		for _, tr := range trials {
			go func() {
				select {
				case <-tr.pr.started:
				case <-time.After(10 * time.Second):
					results <- result{setup: tr.setup, err: errNotReached}
					return
				}
				cut := time.Now()
				if err := tr.ns.Cut(); err != nil {
					results <- result{setup: tr.setup, err: err}
					return
				}
				took := time.Since(cut)
				t := time.NewTimer(limit)
				defer t.Stop()
				select {
				case at := <-tr.pr.detected:
					results <- result{setup: tr.setup, d: at.Sub(cut), cut: took}
				case <-t.C:
					results <- result{setup: tr.setup, d: -1, cut: took}
				}
			}()
		}
		for range trials {
			r := <-results
			if r.err != nil {
				b.Fatalf("%s: %v", setups[r.setup].name, r.err)
			}
			series[r.setup].Add(r.d)
			cuts.Add(r.cut)
		}
	}
	for i := range series {
		report(b, &series[i])
	}
	report(b, &cuts)
	save(b, append(series, cuts)...)
}
