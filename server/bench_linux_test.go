package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/netns"
	"github.com/lifeline-go/lifeline/server"
)

// benchTrials is how many clients vanish per setup and iteration.
const benchTrials = 5

// benchCap bounds the wait for a setup that may never notice (Go's default
// keep-alive needs about 150 s).
const benchCap = 10 * time.Second

// benchSetup is one way of serving a silent-peer trial.
type benchSetup struct {
	name string
	// serve starts a server on ns's host address whose handler reports on
	// pr, and returns its address and whether it speaks h2c.
	serve func(b *testing.B, ns *netns.Pair, pr *probe) (addr string, h2c bool)
}

// lifelineSetup serves pr's silent or writing handler with Lifeline and the
// server package's defaults, over HTTP/1.1 or h2c.
func lifelineSetup(writing, h2c bool) func(*testing.B, *netns.Pair, *probe) (string, bool) {
	return func(b *testing.B, ns *netns.Pair, pr *probe) (string, bool) {
		log, _ := testLogger(b)
		pool := newPool(b, log, lifeline.WithTimeLimit(0))
		h := pr.silent()
		if writing {
			h = pr.writing()
		}
		srv := start(b, pool, pool.Middleware()(h),
			server.WithAddr(netip.AddrPortFrom(ns.HostAddr, 0).String()),
			server.WithLogger(log), server.WithDrainTimeout(time.Second), server.WithH2C(h2c))
		return srv.addr, h2c
	}
}

// bareSetup serves a silent handler with a bare http.Server: on a listener
// from server.Listen (the same socket settings, no Lifeline) or from
// net.Listen (Go's defaults).
func bareSetup(tuned bool) func(*testing.B, *netns.Pair, *probe) (string, bool) {
	return func(b *testing.B, ns *netns.Pair, pr *probe) (string, bool) {
		addr := netip.AddrPortFrom(ns.HostAddr, 0).String()
		var (
			ln  net.Listener
			err error
		)
		if tuned {
			log, _ := testLogger(b)
			s, nerr := server.New(newPool(b, log), http.NotFoundHandler(), server.WithAddr(addr), server.WithLogger(log))
			if nerr != nil {
				b.Fatal(nerr)
			}
			ln, err = s.Listen(context.Background())
		} else {
			ln, err = net.Listen("tcp", addr)
		}
		if err != nil {
			b.Fatal(err)
		}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			pr.once.Do(func() { close(pr.started) })
			t := time.NewTimer(benchCap + 5*time.Second)
			defer t.Stop()
			select {
			case <-r.Context().Done():
				pr.detected <- detection{aborted: true, cause: context.Cause(r.Context()), at: time.Now()}
			case <-t.C:
			}
		})
		srv := &http.Server{Handler: h}
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.Serve(ln) }()
		b.Cleanup(func() { srv.Close(); <-done })
		return ln.Addr().String(), false
	}
}

// BenchmarkSilentPeer measures how long after a client vanishes (every
// packet dropped, no FIN, no RST) the server notices, with the server
// package's defaults, side by side with a bare net/http server on the same
// socket settings and on Go's defaults. All trials run at once, each with its
// own network namespace; it prints figures and asserts nothing. Needs root:
//
//	go test -run '^$' -bench SilentPeer -benchtime 1x ./server
func BenchmarkSilentPeer(b *testing.B) {
	setups := []benchSetup{
		{"lifeline-silent", lifelineSetup(false, false)},
		{"lifeline-writing", lifelineSetup(true, false)},
		{"lifeline-h2c-silent", lifelineSetup(false, true)},
		{"nethttp-tuned-silent", bareSetup(true)},
		{"nethttp-godefault-silent", bareSetup(false)},
	}
	samples := make([][]time.Duration, len(setups))
	for b.Loop() {
		type trial struct {
			setup int
			ns    *netns.Pair
			pr    *probe
		}
		var trials []trial
		for i, st := range setups {
			for range benchTrials {
				ns := netns.New(b)
				pr := newProbe()
				addr, h2c := st.serve(b, ns, pr)
				client(b, ns, "http://"+addr+"/", h2c)
				trials = append(trials, trial{i, ns, pr})
			}
		}
		type result struct {
			setup int
			d     time.Duration
			err   error
		}
		results := make(chan result, len(trials))
		for _, tr := range trials {
			go func() {
				select {
				case <-tr.pr.started:
				case <-time.After(10 * time.Second):
					results <- result{tr.setup, 0, fmt.Errorf("request never reached the handler")}
					return
				}
				cut := time.Now()
				if err := tr.ns.Cut(); err != nil {
					results <- result{tr.setup, 0, err}
					return
				}
				t := time.NewTimer(benchCap)
				defer t.Stop()
				select {
				case d := <-tr.pr.detected:
					results <- result{tr.setup, d.at.Sub(cut), nil}
				case <-t.C:
					results <- result{tr.setup, -1, nil} // not noticed within the cap
				}
			}()
		}
		for range trials {
			r := <-results
			if r.err != nil {
				b.Fatal(r.err)
			}
			samples[r.setup] = append(samples[r.setup], r.d)
		}
	}
	b.ReportMetric(0, "ns/op")
	var base time.Duration
	for i, st := range setups {
		p50, maxD, missed := summarize(samples[i])
		if st.name == "nethttp-tuned-silent" {
			base = p50
		}
		b.ReportMetric(p50.Seconds(), st.name+"-p50-s")
		b.ReportMetric(maxD.Seconds(), st.name+"-max-s")
		b.Logf("%-26s n=%d p50=%v max=%v not-noticed-within-%v=%d", st.name, len(samples[i]), p50.Round(time.Millisecond), maxD.Round(time.Millisecond), benchCap, missed)
	}
	if lp50, _, _ := summarize(samples[0]); base > 0 {
		b.ReportMetric(float64(lp50)/float64(base), "lifeline/nethttp-tuned-p50")
	}
}

// summarize returns the median and maximum of the noticed samples and the
// number of samples never noticed (negative). With a miss, the maximum is
// reported as the cap.
func summarize(s []time.Duration) (p50, maxD time.Duration, missed int) {
	var got []time.Duration
	for _, d := range s {
		if d < 0 {
			missed++
			continue
		}
		got = append(got, d)
	}
	if missed > 0 {
		maxD = benchCap
	}
	if len(got) == 0 {
		return benchCap, benchCap, missed
	}
	slices.Sort(got)
	return got[len(got)/2], max(maxD, got[len(got)-1]), missed
}
