package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/pprof/profile"
)

// categories split a server's CPU time by the stack of each sample, first
// match from the top of the list: the breakdown of Lifeline's extra CPU per
// request (issue 16's categories).
var categories = []struct {
	name  string
	match []string // substrings of a function name anywhere in the stack
}{
	{"write syscall", []string{"internal/poll.(*FD).Write", "internal/poll.(*FD).Writev", "syscall.write"}},
	{"read syscall", []string{"internal/poll.(*FD).Read", "syscall.read"}},
	{"GC", []string{"runtime.gcBgMarkWorker", "runtime.gcAssistAlloc", "runtime.bgsweep", "runtime.bgscavenge"}},
	{"allocation", []string{"runtime.mallocgc", "runtime.newobject", "runtime.makeslice", "runtime.makemap"}},
	{"goroutine start/exit", []string{"runtime.newproc", "runtime.goexit0", "runtime.gfget", "runtime.malg"}},
	{"scheduler and hand-offs", []string{"runtime.schedule", "runtime.findRunnable", "runtime.park_m", "runtime.goready", "runtime.selectgo", "runtime.chansend", "runtime.chanrecv", "runtime.futex", "runtime.wakep", "runtime.netpoll"}},
	{"lifeline: run set-up", []string{"lifeline.(*Pool).newRun", "lifeline.(*Pool).admit", "lifeline.(*exchange).reset"}},
	{"lifeline: end-of-run bookkeeping", []string{"lifeline.(*Pool).endRun", "lifeline.(*Run).fillOutcome"}},
	{"lifeline: final flush, Content-Length", []string{"output.(*Stack).EndAll", "lifeline.runSide.endOutput", "lifeline.(*runSink).finishResponse"}},
	{"lifeline: output stack and writers", []string{"lifeline-go/lifeline/output.", "lifeline.(*runWriter)", "lifeline.(*runSink)", "lifeline.(*exchange)"}},
	{"lifeline: other", []string{"lifeline-go/lifeline."}},
	{"net/http", []string{"net/http."}},
}

// profileCPU runs variant's server for workload and proto with a CPU
// profile, loads it for d, and returns CPU µs per request by category.
func profileCPU(ctx context.Context, cfg config, variant, workload, proto string, cpuRounds int, d time.Duration) (map[string]float64, float64, error) {
	dir, err := os.MkdirTemp("", "benchpeers-prof")
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "cpu.pprof")
	s, err := startServer(ctx, cfg.self, "-variant", variant, "-workload", workload, "-proto", proto,
		"-cpurounds", fmt.Sprint(cpuRounds), "-cpuprofile", file)
	if err != nil {
		return nil, 0, err
	}
	res, err := load(ctx, proto, s.url(), d)
	if err != nil {
		s.stop()
		return nil, 0, err
	}
	// SIGTERM makes the server stop the profile and exit (see serveMain).
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.done
	f, err := os.Open(file)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w: %s", variant, err, s.stderr.String())
	}
	defer f.Close()
	byCat, total, err := categorize(f)
	if err != nil {
		return nil, 0, err
	}
	requests := res.rps * d.Seconds()
	out := map[string]float64{}
	for k, v := range byCat {
		out[k] = v.Seconds() * 1e6 / requests
	}
	return out, total.Seconds() * 1e6 / requests, nil
}

// categorize sums a CPU profile's sample time by category.
func categorize(r io.Reader) (map[string]time.Duration, time.Duration, error) {
	p, err := profile.Parse(r)
	if err != nil {
		return nil, 0, err
	}
	ti := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			ti = i
		}
	}
	if ti < 0 {
		return nil, 0, fmt.Errorf("no cpu samples in the profile")
	}
	by := map[string]time.Duration{}
	var total time.Duration
	for _, smp := range p.Sample {
		v := time.Duration(smp.Value[ti])
		total += v
		by[categoryOf(smp)] += v
	}
	return by, total, nil
}

func categoryOf(smp *profile.Sample) string {
	var names []string
	for _, loc := range smp.Location {
		for _, ln := range loc.Line {
			if ln.Function != nil {
				names = append(names, ln.Function.Name)
			}
		}
	}
	for _, c := range categories {
		for _, n := range names {
			for _, m := range c.match {
				if strings.Contains(n, m) {
					return c.name
				}
			}
		}
	}
	return "other"
}

// breakdown is CPU µs per request by category of bare and Lifeline on one
// workload, over each protocol.
type breakdown struct {
	workload   string
	load       time.Duration // length of each profiled load run
	categories []string      // in the order of the table, "other" last
	// by and total are keyed by protocol then variant ("bare", "lifeline").
	by    map[string]map[string]map[string]float64
	total map[string]map[string]float64
}

// measureBreakdown profiles bare and Lifeline on hello over each protocol.
func measureBreakdown(ctx context.Context, cfg config, cpuRounds int) (*breakdown, error) {
	bd := &breakdown{workload: "hello", load: 4 * cfg.dur,
		by: map[string]map[string]map[string]float64{}, total: map[string]map[string]float64{}}
	for _, c := range categories {
		bd.categories = append(bd.categories, c.name)
	}
	bd.categories = append(bd.categories, "other")
	for _, proto := range protos {
		bd.by[proto] = map[string]map[string]float64{}
		bd.total[proto] = map[string]float64{}
		for _, v := range []string{"bare", "lifeline"} {
			by, total, err := profileCPU(ctx, cfg, v, bd.workload, proto, cpuRounds, bd.load)
			if err != nil {
				return nil, fmt.Errorf("profile %s/%s: %w", v, proto, err)
			}
			bd.by[proto][v], bd.total[proto][v] = by, total
		}
	}
	return bd, nil
}

// printBreakdown prints Lifeline's extra CPU per request by category.
func printBreakdown(w io.Writer, bd *breakdown) {
	fmt.Fprintf(w, "\nLifeline's extra CPU per request by category, %s workload (CPU profile of each server under %v of load, µs per request; Lifeline minus bare):\n\n", bd.workload, bd.load)
	fmt.Fprint(w, "| category |")
	for _, proto := range protos {
		fmt.Fprintf(w, " %[1]s bare | %[1]s Lifeline | %[1]s extra |", proto)
	}
	fmt.Fprint(w, "\n|---|")
	for range protos {
		fmt.Fprint(w, "---:|---:|---:|")
	}
	fmt.Fprintln(w)
	for _, n := range bd.categories {
		fmt.Fprintf(w, "| %s |", n)
		for _, proto := range protos {
			b, l := bd.by[proto]["bare"][n], bd.by[proto]["lifeline"][n]
			fmt.Fprintf(w, " %.2f | %.2f | %+.2f |", b, l, l-b)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "| **total** |")
	for _, proto := range protos {
		b, l := bd.total[proto]["bare"], bd.total[proto]["lifeline"]
		fmt.Fprintf(w, " %.2f | %.2f | %+.2f |", b, l, l-b)
	}
	fmt.Fprintln(w)
}
