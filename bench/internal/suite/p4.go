package suite

import (
	"context"
	"fmt"

	"github.com/lifeline-go/lifeline/bench/internal/finishlat"
	"github.com/lifeline-go/lifeline/bench/internal/plot"
	"github.com/lifeline-go/lifeline/bench/internal/report"
	"github.com/lifeline-go/lifeline/bench/internal/stats"
)

const p4Goal = "p50 ≤ 1 ms from Finish() to the client holding the complete body, plain and gzip; 100% of HTTP/1.1 " +
	"connections reused across 1,000 sequential early-finished requests (the seed's Connection: close recipe: 0%)"

// p4 measures the early answer in this process: Lifeline's Finish against
// the seed's recipe with bare net/http, one request of each in turn.
func (r *runner) p4(ctx context.Context, s *report.Section) error {
	set := finishlat.Settings{Requests: r.sz.p4Requests, Work: r.sz.p4Work, BodySize: r.sz.p4Body}
	s.Method = []string{
		fmt.Sprintf("Two HTTP/1.1 servers on loopback in the suite's process. Lifeline: the handler writes a %d-byte HTML page "+
			"and calls `Run.Finish` (for gzip, inside `compress.Handler`, which compresses at Finish and sets the exact "+
			"Content-Length). Baseline, the seed's recipe with bare net/http: set Content-Length and `Connection: close`, "+
			"write, flush (for gzip, compress the page with compress/gzip at the same level first). Both handlers then work "+
			"for %v. The time runs from just before Finish (the recipe: just before its flush, or its compression) to the "+
			"client's `io.ReadAll` of the body returning. One client per server makes %d sequential requests per variant, "+
			"alternating between the servers; reuse is the share of requests after the first sent on a connection that had "+
			"served one before (httptrace).", set.BodySize, set.Work, set.Requests),
	}
	s.Commands = []string{r.suiteCommand("P4") + "   # in-process, bench/internal/finishlat"}
	res, err := finishlat.Measure(ctx, set)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, v := range finishlat.Variants {
		l, err := stats.Find(res.Series, finishlat.Lifeline+"/"+v)
		if err != nil {
			return err
		}
		b, err := stats.Find(res.Series, finishlat.Recipe+"/"+v)
		if err != nil {
			return err
		}
		ls, bs := l.Summary(), b.Summary()
		lr, br := res.Reuse[finishlat.Lifeline+"/"+v], res.Reuse[finishlat.Recipe+"/"+v]
		s.Verdicts = append(s.Verdicts,
			report.Verdict{
				Measurement: "Finish → complete body at the client, p50, " + v,
				Figure:      fmt.Sprintf("p50 %s, p99 %s (recipe: p50 %s)", report.Micros(ls.P50), report.Micros(ls.P99), report.Micros(bs.P50)),
				Goal:        "p50 ≤ 1 ms",
				Outcome:     report.AtMost(ls.P50, 1000),
				Command:     r.suiteCommand("P4"),
			},
			report.Verdict{
				Measurement: fmt.Sprintf("HTTP/1.1 connection reuse over %d early-finished requests, %s", lr.Requests, v),
				Figure:      fmt.Sprintf("%s (recipe: %s)", report.Percent(lr.Fraction()), report.Percent(br.Fraction())),
				Goal:        "100%",
				Outcome:     report.AtLeast(lr.Fraction(), 1),
				Command:     r.suiteCommand("P4"),
			})
		rows = append(rows,
			[]string{v, "Lifeline Finish", report.Micros(ls.P50), report.Micros(ls.P99), report.Micros(ls.Max), report.Percent(lr.Fraction())},
			[]string{v, "recipe (Connection: close)", report.Micros(bs.P50), report.Micros(bs.P99), report.Micros(bs.Max), report.Percent(br.Fraction())},
		)
		path := r.plotPath("p4-finish-" + v)
		if err := plot.CDF(path, plot.Chart{
			Title:  "P4 answer → complete body at the client, " + v,
			XLabel: "time from Finish (recipe: flush) to the client holding the body (µs)",
			LogX:   true,
			Curves: []plot.Curve{{Name: "Lifeline Finish", Values: l.Micros()}, {Name: "recipe: Content-Length + Connection: close + flush", Values: b.Micros()}},
			Goal:   1000, GoalLabel: "goal: p50 ≤ 1 ms",
		}); err != nil {
			return err
		}
		s.Plots = append(s.Plots, report.Plot{Title: "P4 " + v, Path: path})
	}
	s.Tables = append(s.Tables, report.Table{
		Header: []string{"variant", "server", "p50", "p99", "max", "connections reused"},
		Rows:   rows,
	})
	return nil
}
