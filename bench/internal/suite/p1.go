package suite

import (
	"context"
	"fmt"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/gobench"
	"github.com/lifeline-go/lifeline/bench/internal/loadgen"
	"github.com/lifeline-go/lifeline/bench/internal/report"
	"github.com/lifeline-go/lifeline/bench/internal/serve"
	"github.com/lifeline-go/lifeline/bench/internal/stats"
)

const p1Goal = "hello-world requests per second through Lifeline ÷ bare net/http ≥ 0.97 over HTTP/1.1 keep-alive (wrk) " +
	"and h2c (h2load) on loopback; ≤ 1 µs and ≤ 3 allocations extra per request (the root's BenchmarkOverhead)"

// p1 measures hello-world throughput through Lifeline and bare net/http,
// each in a server process of its own, with wrk and h2load taking turns
// between them, then runs the root package's BenchmarkOverhead.
func (r *runner) p1(ctx context.Context, s *report.Section) error {
	sz := r.sz
	bare, err := r.startServer(ctx, "-handler", serve.Hello)
	if err != nil {
		return err
	}
	defer bare.stop()
	life, err := r.startServer(ctx, "-handler", serve.Hello, "-lifeline")
	if err != nil {
		return err
	}
	defer life.stop()

	tools := []p1Tool{
		{"wrk", "HTTP/1.1 keep-alive", loadgen.Load{Conns: sz.p1Conns, Threads: 1, Duration: sz.p1Duration}, loadgen.Wrk, loadgen.WrkArgs},
		{"h2load", "h2c", loadgen.Load{Conns: sz.p1H2Conns, Streams: sz.p1H2Streams, Threads: 1, Duration: sz.p1Duration}, loadgen.H2load, loadgen.H2loadArgs},
	}
	s.Method = []string{
		fmt.Sprintf("Two server processes run side by side, started by the suite: bare net/http serving a hello-world handler, and the same "+
			"handler through `Pool.Middleware` with `Pool.ConfigureServer`; both `http.Server`s are otherwise identical and speak "+
			"HTTP/1.1 and h2c. The load tool runs for %v against one, then the other, %s, the order swapped every round; "+
			"each round gives one ratio. One warm-up run per server and tool is not counted. Non-2xx responses and errors do not count "+
			"as requests.", sz.p1Duration, report.Plural(sz.p1Rounds, "round")),
	}
	for _, t := range tools {
		if err := r.p1Load(ctx, s, t, life, bare); err != nil {
			return err
		}
	}
	return r.p1Overhead(ctx, s)
}

// p1Tool is a load tool and how to drive it.
type p1Tool struct {
	name  string
	proto string
	load  loadgen.Load
	run   func(context.Context, string, loadgen.Load) (loadgen.Result, error)
	args  func(string, loadgen.Load) []string
}

// p1Load warms both servers up with t, then runs t's rounds, the order
// swapped every round, and adds the verdict and the table to s.
func (r *runner) p1Load(ctx context.Context, s *report.Section, t p1Tool, life, bare *child) error {
	cmd := t.name + " " + joinArgs(t.args("http://127.0.0.1:PORT/", t.load))
	s.Commands = append(s.Commands, cmd)
	for _, c := range []*child{bare, life} {
		warm := t.load
		warm.Duration = time.Second
		if _, err := t.run(ctx, c.url("/"), warm); err != nil {
			return err
		}
	}
	var lrps, brps []float64
	var failed int64
	var rows [][]string
	for round := range r.sz.p1Rounds {
		order := []*child{life, bare}
		if round%2 == 1 {
			order = []*child{bare, life}
		}
		got := map[*child]float64{}
		for _, c := range order {
			res, err := t.run(ctx, c.url("/"), t.load)
			if err != nil {
				return err
			}
			got[c] = res.RPS
			failed += res.Failed
		}
		lrps, brps = append(lrps, got[life]), append(brps, got[bare])
		rows = append(rows, []string{fmt.Sprint(round + 1), fmt.Sprintf("%.0f", got[bare]), fmt.Sprintf("%.0f", got[life]),
			fmt.Sprintf("%.3f", got[life]/got[bare])})
	}
	ratios := stats.Ratios(lrps, brps)
	s.Verdicts = append(s.Verdicts, report.Verdict{
		Measurement: "requests/s Lifeline ÷ net/http, " + t.proto,
		Figure:      report.Spread(ratios, report.Fixed(3, "")),
		Goal:        "≥ 0.97",
		Outcome:     report.AtLeast(stats.Median(ratios), 0.97),
		Command:     cmd,
	})
	s.Tables = append(s.Tables, report.Table{
		Caption: fmt.Sprintf("%s, %s (failed requests over all runs: %d):", t.name, t.proto, failed),
		Header:  []string{"round", "net/http req/s", "Lifeline req/s", "ratio"},
		Rows:    rows,
	})
	return nil
}

// p1Overhead runs the root's BenchmarkOverhead in rounds and reports the
// extra ns/op and allocs/op of Lifeline over the bare handler.
func (r *runner) p1Overhead(ctx context.Context, s *report.Section) error {
	bin, err := r.binary(ctx, ".")
	if err != nil {
		return err
	}
	const pattern = "^BenchmarkOverhead$"
	flags := []string{"-test.benchtime=" + r.sz.p1BenchTime, "-test.benchmem"}
	cmd := gobench.Command(".", pattern, flags...)
	s.Commands = append(s.Commands, cmd+"   # run once per round")
	type pair struct{ name, bare, life string }
	pairs := []pair{
		{"serial", "BenchmarkOverhead/bare", "BenchmarkOverhead/lifeline"},
		{"RunParallel", "BenchmarkOverhead/bare-parallel", "BenchmarkOverhead/lifeline-parallel"},
	}
	extraNS := make([][]float64, len(pairs))
	extraAllocs := make([][]float64, len(pairs))
	var rows [][]string
	for round := range r.sz.p1BenchRounds {
		res, _, err := bin.Run(ctx, pattern, flags...)
		if err != nil {
			return err
		}
		for i, p := range pairs {
			b, ok1 := gobench.Find(res, p.bare)
			l, ok2 := gobench.Find(res, p.life)
			if !ok1 || !ok2 {
				return fmt.Errorf("suite: BenchmarkOverhead printed no %s or %s", p.bare, p.life)
			}
			dns := l.Metrics["ns/op"] - b.Metrics["ns/op"]
			dal := l.Metrics["allocs/op"] - b.Metrics["allocs/op"]
			extraNS[i] = append(extraNS[i], dns)
			extraAllocs[i] = append(extraAllocs[i], dal)
			rows = append(rows, []string{fmt.Sprint(round + 1), p.name,
				fmt.Sprintf("%.0f", b.Metrics["ns/op"]), fmt.Sprintf("%.0f", l.Metrics["ns/op"]), fmt.Sprintf("%.0f", dns),
				fmt.Sprintf("%.0f", b.Metrics["allocs/op"]), fmt.Sprintf("%.0f", l.Metrics["allocs/op"]), fmt.Sprintf("%.0f", dal)})
		}
	}
	s.Tables = append(s.Tables, report.Table{
		Caption: "BenchmarkOverhead (root package): a hello-world handler called bare and through `Pool.Middleware`, with a minimal ResponseWriter:",
		Header:  []string{"round", "mode", "bare ns/op", "Lifeline ns/op", "extra ns", "bare allocs", "Lifeline allocs", "extra allocs"},
		Rows:    rows,
	})
	ns, allocs := stats.Median(extraNS[0]), stats.Median(extraAllocs[0])
	s.Verdicts = append(s.Verdicts,
		report.Verdict{Measurement: "extra time per request (BenchmarkOverhead, serial)", Figure: report.Spread(extraNS[0], report.Fixed(0, " ns")),
			Goal: "≤ 1 µs", Outcome: report.AtMost(ns, 1000), Command: cmd},
		report.Verdict{Measurement: "extra allocations per request (BenchmarkOverhead, serial)", Figure: report.Spread(extraAllocs[0], report.Fixed(0, "")),
			Goal: "≤ 3", Outcome: report.AtMost(allocs, 3), Command: cmd},
	)
	s.Notes = append(s.Notes, fmt.Sprintf("RunParallel extra time: %s; extra allocations: %s (shown for information; the goal is judged on the serial figures).",
		report.Spread(extraNS[1], report.Fixed(0, " ns")), report.Spread(extraAllocs[1], report.Fixed(0, ""))))
	return nil
}
