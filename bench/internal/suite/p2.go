package suite

import (
	"context"
	"fmt"

	"github.com/lifeline-go/lifeline/bench/internal/abortlat"
	"github.com/lifeline-go/lifeline/bench/internal/plot"
	"github.com/lifeline-go/lifeline/bench/internal/report"
	"github.com/lifeline-go/lifeline/bench/internal/stats"
)

const p2Goal = "p99 ≤ 1 ms from the client's FIN, RST, close with an unread POST body, or HTTP/2 stream reset " +
	"to the handler's context being done"

// p2 measures closed-client detection in this process: Lifeline and bare
// net/http servers on loopback, one trial of each in turn.
func (r *runner) p2(ctx context.Context, s *report.Section) error {
	set := abortlat.Settings{Trials: r.sz.p2Trials, Cap: r.sz.p2Cap, MaxMisses: r.sz.p2MaxMisses}
	s.Method = []string{
		fmt.Sprintf("Two servers on loopback in the suite's process: a handler that waits for `r.Context().Done()`, through "+
			"`Pool.Middleware` with `Pool.ConfigureServer` (Lifeline's epoll watcher), and bare (net/http's own background read). "+
			"Each trial opens a connection, sends the request, waits until the handler runs, then closes the client and times "+
			"until the handler sees its context done. %s per case and server, alternating between the servers; a trial not "+
			"noticed within %s counts as missed, and a server stops being tried in a case after %s. The root package's "+
			"BenchmarkAbortDetection measures the Lifeline side the same way; this part adds the baseline and the distributions.",
			report.Plural(set.Trials, "trial"), report.Duration(set.Cap), report.Plural(set.MaxMisses, "miss")),
	}
	s.Commands = []string{r.suiteCommand("P2") + "   # in-process, bench/internal/abortlat",
		"go test -run '^$' -bench '^BenchmarkAbortDetection$' -benchtime 3000x .   # Lifeline side only"}
	series, err := abortlat.Measure(ctx, set)
	if err != nil {
		return err
	}
	rows := [][]string{}
	for _, c := range abortlat.Cases {
		l, err := stats.Find(series, abortlat.Lifeline+"/"+c)
		if err != nil {
			return err
		}
		b, err := stats.Find(series, abortlat.NetHTTP+"/"+c)
		if err != nil {
			return err
		}
		ls, bs := l.Summary(), b.Summary()
		outcome := report.AtMost(ls.P99, 1000)
		if l.Missed > 0 {
			outcome = report.NotMet
		}
		s.Verdicts = append(s.Verdicts, report.Verdict{
			Measurement: "detection latency p99, " + c,
			Figure:      fmt.Sprintf("p50 %s, p99 %s (%s noticed)", report.Micros(ls.P50), report.Micros(ls.P99), report.Observed(l)),
			Goal:        "p99 ≤ 1 ms",
			Outcome:     outcome,
			Command:     r.suiteCommand("P2"),
		})
		ratio := "—"
		if bs.N > 0 && bs.P50 > 0 {
			ratio = fmt.Sprintf("%.2f", ls.P50/bs.P50)
		}
		rows = append(rows, []string{c, report.Micros(ls.P50), report.Micros(ls.P99), report.Micros(ls.Max), report.Observed(l),
			report.Micros(bs.P50), report.Micros(bs.P99), report.Observed(b), ratio})
		path := r.plotPath("p2-" + c)
		if err := plot.CDF(path, plot.Chart{
			Title:  "P2 closed-client detection: " + c,
			XLabel: "time from client close to handler context done (µs)",
			LogX:   true,
			Curves: []plot.Curve{{Name: "Lifeline", Values: l.Micros()}, {Name: "net/http", Values: b.Micros()}},
			Goal:   1000, GoalLabel: "goal: p99 ≤ 1 ms",
		}); err != nil {
			return err
		}
		s.Plots = append(s.Plots, report.Plot{Title: "P2 " + c, Path: path})
	}
	s.Tables = append(s.Tables, report.Table{
		Header: []string{"case", "Lifeline p50", "p99", "max", "noticed", "net/http p50", "p99", "noticed", "p50 Lifeline ÷ net/http"},
		Rows:   rows,
	})
	s.Notes = append(s.Notes, "net/http notices a close only when its background read runs, which it does not start while a request body "+
		"is unread (golang/go#23262): the unread-body baseline is expected to miss.")
	return nil
}
