package suite

import (
	"context"
	"fmt"
	"strconv"

	"github.com/lifeline-go/lifeline/bench/internal/report"
	"github.com/lifeline-go/lifeline/bench/internal/scale"
	"github.com/lifeline-go/lifeline/bench/internal/stats"
)

const p6Goal = "100,000 concurrent runs in flight, each with a timer, a shutdown function and work after Finish: " +
	"≤ 20 KB of RSS per run, and the machine holds them"

// p6 runs the scale measurement in fresh child processes, Lifeline and
// the hand-rolled goroutine baseline taking turns.
func (r *runner) p6(ctx context.Context, s *report.Section) error {
	sz := r.sz
	maxRSS := meminfo("MemAvailable") / 2 >> 20 // MiB; stop a ramp before it could starve the machine
	args := func(mode string) []string {
		return []string{"scale", "-mode", mode, "-runs", strconv.Itoa(sz.p6Runs), "-deadline", sz.p6Deadline.String(),
			"-max-rss-mb", strconv.FormatInt(maxRSS, 10)}
	}
	cmd := "go run ./bench/cmd/suite " + ChildArg + " " + joinArgs(args(scale.ModeLifeline))
	s.Method = []string{
		fmt.Sprintf("Each measurement is a fresh child process. It serves %d requests in-process (`ServeHTTP` with a minimal "+
			"ResponseWriter, from 4 goroutines per core) through a pool with a 10-minute time limit (a timer per run); each "+
			"run registers a shutdown function, writes, calls `Run.Finish`, and then keeps working (blocked) until every run "+
			"is in flight. The process's RSS (VmRSS, after a garbage collection) is read then and compared with its RSS before "+
			"the first request. The runs are then let go and the pool shut down; \"held\" means all %d were in flight at once "+
			"and all their shutdown functions ran. Baseline: the same requests answered bare, each starting a goroutine with a "+
			"timer and a deferred function, what a Go programmer writes by hand. %s, the order swapped every round. "+
			"The ramp-up stops at half the available memory (%d MiB) or after %v.", sz.p6Runs, sz.p6Runs, report.Plural(sz.p6Rounds, "round"), maxRSS, sz.p6Deadline),
	}
	s.Commands = []string{r.suiteCommand("P6"), cmd}
	var lifeKB, baseKB, ratios []float64
	held := true
	var rows [][]string
	for round := range sz.p6Rounds {
		modes := []string{scale.ModeLifeline, scale.ModeGoroutine}
		if round%2 == 1 {
			modes[0], modes[1] = modes[1], modes[0]
		}
		got := map[string]scale.Result{}
		for _, m := range modes {
			var res scale.Result
			if err := r.runChildJSON(ctx, &res, args(m)...); err != nil {
				return err
			}
			got[m] = res
			rows = append(rows, []string{strconv.Itoa(round + 1), m, strconv.Itoa(res.InFlight), fmt.Sprint(res.Held),
				fmt.Sprintf("%.0f", float64(res.RSSBefore)/(1<<20)), fmt.Sprintf("%.0f", float64(res.RSSInFlight)/(1<<20)),
				fmt.Sprintf("%.2f", res.BytesPerRun()/1000), fmt.Sprintf("%.2f", float64(res.HeapInuse)/float64(max(res.InFlight, 1))/1000),
				fmt.Sprintf("%.2f", float64(res.StackInuse)/float64(max(res.InFlight, 1))/1000),
				report.Duration(res.Ramp), report.Duration(res.Drain), res.Note})
		}
		l, b := got[scale.ModeLifeline], got[scale.ModeGoroutine]
		held = held && l.Held
		lifeKB = append(lifeKB, l.BytesPerRun()/1000)
		baseKB = append(baseKB, b.BytesPerRun()/1000)
		if b.BytesPerRun() > 0 {
			ratios = append(ratios, l.BytesPerRun()/b.BytesPerRun())
		}
	}
	med := stats.Median(lifeKB)
	outcome := report.AtMost(med, 20)
	if !held {
		outcome = report.NotMet
	}
	heldText := "held in every round"
	if !held {
		heldText = "**not held** in some round (see the table)"
	}
	s.Verdicts = append(s.Verdicts, report.Verdict{
		Measurement: fmt.Sprintf("RSS per run with %d runs in flight", sz.p6Runs),
		Figure:      fmt.Sprintf("%s per run, %s (goroutine baseline: %s; ratio %s)", report.Spread(lifeKB, report.Fixed(1, " KB")), heldText, report.Spread(baseKB, report.Fixed(1, " KB")), report.Spread(ratios, report.Fixed(2, "×"))),
		Goal:        "≤ 20 KB, held",
		Outcome:     outcome,
		Command:     cmd,
	})
	s.Tables = append(s.Tables, report.Table{
		Header: []string{"round", "mode", "in flight", "held", "RSS before (MiB)", "RSS in flight (MiB)", "RSS/run (KB)", "heap/run (KB)", "stacks/run (KB)", "ramp-up", "drain", "note"},
		Rows:   rows,
	})
	s.Notes = append(s.Notes, "KB = 1,000 bytes, MiB = 2^20 bytes. The heap and stack columns are the Go runtime's figures with every run in flight, divided by the runs.")
	return nil
}
