package suite

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/plot"
	"github.com/lifeline-go/lifeline/bench/internal/report"
	"github.com/lifeline-go/lifeline/bench/internal/stats"
)

const p3Goal = "a client that vanishes without FIN or RST (network cut) is noticed within 5 s with package server's defaults"

// p3Setups are the probes' silent-peer series, with their labels.
var p3Setups = []struct{ name, label string }{
	{"lifeline-h1-silent", "Lifeline, HTTP/1.1, handler silent (keep-alive)"},
	{"lifeline-h1-writing", "Lifeline, HTTP/1.1, handler writing (TCP_USER_TIMEOUT)"},
	{"lifeline-h2c-silent", "Lifeline, h2c, handler silent"},
	{"nethttp-h1-silent", "net/http with Go's defaults, HTTP/1.1, handler silent (baseline)"},
}

// p3 runs the probes' BenchmarkSilentPeer: every client in a network
// namespace of its own, all cut at once.
func (r *runner) p3(ctx context.Context, s *report.Section) error {
	s.Method = []string{
		fmt.Sprintf("Each trial puts a client in a network namespace of its own (internal/netns), joined to the host by a veth "+
			"link; once its request is in the handler, every packet in and out of the namespace is dropped (iptables), so the "+
			"server gets neither FIN nor RST. The time runs from the cut until the handler's context is done. Lifeline runs "+
			"with package server's defaults (`server.New` with only the address set: dead-peer timeout %v), against a bare "+
			"net/http server on a plain `net.Listen` listener (Go's defaults). %s per setup, all at once; a trial waits "+
			"at most %s. Needs root, iproute2 and iptables.", 5*time.Second, report.Plural(r.sz.p3Trials, "trial"), report.Duration(r.sz.p3Cap)),
	}
	series, cmd, err := r.runProbe(ctx, "BenchmarkSilentPeer", map[string]string{
		"trials": itoa(r.sz.p3Trials), "cap": r.sz.p3Cap.String(),
	})
	s.Commands = []string{r.suiteCommand("P3"), cmd}
	if err != nil {
		return err
	}
	var rows [][]string
	var curves []plot.Curve
	var outcomes []report.Outcome
	worst := 0.0
	for _, st := range p3Setups {
		sr, err := stats.Find(series, st.name)
		if err != nil {
			return err
		}
		sum := sr.Summary()
		rows = append(rows, []string{st.label, report.Observed(sr), seconds(sum.Min), seconds(sum.P50), seconds(sum.Max)})
		secs := make([]float64, 0, sr.Trials())
		for _, v := range sr.Micros() {
			secs = append(secs, v/1e6)
		}
		curves = append(curves, plot.Curve{Name: st.label, Values: secs})
		if st.name[:len("lifeline")] == "lifeline" {
			o := report.AtMost(sum.Max, 5e6)
			if sr.Missed > 0 {
				o = report.NotMet
			}
			outcomes = append(outcomes, o)
			worst = math.Max(worst, sum.Max)
		}
	}
	s.Verdicts = append(s.Verdicts, report.Verdict{
		Measurement: "silent peer noticed, defaults (slowest Lifeline trial over h1 silent, h1 writing, h2c)",
		Figure:      seconds(worst),
		Goal:        "≤ 5 s",
		Outcome:     report.All(outcomes...),
		Command:     cmd,
	})
	s.Tables = append(s.Tables, report.Table{
		Header: []string{"setup", "noticed", "min", "p50", "max"},
		Rows:   rows,
	})
	if cut, err := stats.Find(series, "cut"); err == nil {
		cs := cut.Summary()
		s.Notes = append(s.Notes, fmt.Sprintf("Each time runs from just before the cut, since the peer may be gone from the "+
			"first iptables rule on; the cut itself (two `ip netns exec … iptables` commands) took %s at the median and %s at "+
			"most, included in the figures.", report.Micros(cs.P50), report.Micros(cs.Max)))
	}
	path := r.plotPath("p3-silent-peer")
	if err := plot.CDF(path, plot.Chart{
		Title:  "P3 silent-peer detection (defaults)",
		XLabel: "time from the network cut to the handler's context done (s)",
		Curves: curves,
		Goal:   5, GoalLabel: "goal: ≤ 5 s",
	}); err != nil {
		return err
	}
	s.Plots = append(s.Plots, report.Plot{Title: "P3 silent peer", Path: path})
	return nil
}

// seconds formats microseconds as seconds with millisecond precision, so
// that a figure just over the 5 s goal does not print as "5.00 s".
func seconds(us float64) string {
	if math.IsNaN(us) || math.IsInf(us, 0) {
		return "—"
	}
	return fmt.Sprintf("%.3f s", us/1e6)
}
