package suite

import (
	"context"
	"fmt"

	"github.com/lifeline-go/lifeline/bench/internal/plot"
	"github.com/lifeline-go/lifeline/bench/internal/report"
	"github.com/lifeline-go/lifeline/bench/internal/stats"
)

const p8Goal = "session lock hand-off after WriteClose, p99 ≤ 1 ms with the memory store, ≤ 5 ms with Redis"

// p8 runs the probes' BenchmarkSessionHandoff.
func (r *runner) p8(ctx context.Context, s *report.Section) error {
	sz := r.sz
	s.Method = []string{fmt.Sprintf("session/sessiontest's HandoffWriteClose: one request holds a session, a second one is "+
		"blocked in `Manager.Start` for it; the time runs from just before the holder's `WriteClose` (save, unlock) to the "+
		"waiter's `Start` returning (lock, load). Memory store: one Manager. Redis: two Managers, each with its own client and "+
		"store, on one redis-server on loopback started by internal/redistest (two machines). Baselines from the same run: a "+
		"goroutine woken through a channel (memory), a PING round trip (Redis). %s of %d hand-offs and %d baseline "+
		"samples each, alternating which goes first. Package session's own benchmarks (session/memstore, "+
		"session/redisstore) measure the same with sessiontest; this part adds the alternation and the distributions.",
		report.Plural(sz.p8Rounds, "round"), sz.p8Handoffs, sz.p8Handoffs)}
	series, cmd, err := r.runProbe(ctx, "BenchmarkSessionHandoff", map[string]string{
		"handoffs": itoa(sz.p8Handoffs), "rounds": itoa(sz.p8Rounds),
	})
	s.Commands = []string{r.suiteCommand("P8"), cmd,
		"go test -run '^$' -bench . -benchtime 2000x ./session/memstore/ ./session/redisstore/   # package session's own"}
	if err != nil {
		return err
	}
	stores := []struct {
		name, label, base, baseLabel string
		goalMicros                   float64
		goal                         string
	}{
		{"memory", "memory store", "memory/channel", "channel wake-up", 1000, "p99 ≤ 1 ms"},
		{"redis", "Redis, two Managers", "redis/ping", "Redis PING", 5000, "p99 ≤ 5 ms"},
	}
	var rows [][]string
	for _, st := range stores {
		h, err := stats.Find(series, st.name+"/handoff")
		if err != nil {
			return err
		}
		b, err := stats.Find(series, st.base)
		if err != nil {
			return err
		}
		hs, bs := h.Summary(), b.Summary()
		s.Verdicts = append(s.Verdicts, report.Verdict{
			Measurement: "WriteClose → waiting Start, " + st.label,
			Figure:      fmt.Sprintf("p50 %s, p99 %s (%s p50 %s)", report.Micros(hs.P50), report.Micros(hs.P99), st.baseLabel, report.Micros(bs.P50)),
			Goal:        st.goal,
			Outcome:     report.AtMost(hs.P99, st.goalMicros),
			Command:     cmd,
		})
		rows = append(rows,
			[]string{st.label, "hand-off", fmt.Sprint(hs.N), report.Micros(hs.P50), report.Micros(hs.P99), report.Micros(hs.Max), fmt.Sprintf("%.1f×", hs.P50/bs.P50)},
			[]string{st.label, st.baseLabel + " (baseline)", fmt.Sprint(bs.N), report.Micros(bs.P50), report.Micros(bs.P99), report.Micros(bs.Max), "1×"})
		path := r.plotPath("p8-session-" + st.name)
		if err := plot.CDF(path, plot.Chart{
			Title:  "P8 session hand-off after WriteClose, " + st.label,
			XLabel: "time from WriteClose to the waiting Start returning (µs)",
			LogX:   true,
			Curves: []plot.Curve{{Name: "hand-off", Values: h.Micros()}, {Name: st.baseLabel + " (baseline)", Values: b.Micros()}},
			Goal:   st.goalMicros, GoalLabel: "goal: " + st.goal,
		}); err != nil {
			return err
		}
		s.Plots = append(s.Plots, report.Plot{Title: "P8 " + st.name, Path: path})
	}
	s.Tables = append(s.Tables, report.Table{
		Header: []string{"store", "measurement", "samples", "p50", "p99", "max", "p50 ÷ baseline p50"},
		Rows:   rows,
	})
	return nil
}
