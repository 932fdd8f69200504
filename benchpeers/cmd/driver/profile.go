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

// printBreakdown profiles bare and Lifeline on hello over each protocol and
// prints Lifeline's extra CPU per request by category.
func printBreakdown(ctx context.Context, w io.Writer, cfg config, cpuRounds int) error {
	d := 4 * cfg.dur
	fmt.Fprintf(w, "\nLifeline's extra CPU per request by category, hello workload (CPU profile of each server under %v of load, µs per request; Lifeline minus bare):\n\n", d)
	fmt.Fprintf(w, "| category | h1 bare | h1 Lifeline | h1 extra | h2c bare | h2c Lifeline | h2c extra |\n|---|---:|---:|---:|---:|---:|---:|\n")
	type res struct {
		by    map[string]float64
		total float64
	}
	got := map[string]res{}
	for _, proto := range []string{"h1", "h2c"} {
		for _, v := range []string{"bare", "lifeline"} {
			by, total, err := profileCPU(ctx, cfg, v, "hello", proto, cpuRounds, d)
			if err != nil {
				return fmt.Errorf("profile %s/%s: %w", v, proto, err)
			}
			got[proto+v] = res{by, total}
		}
	}
	names := []string{}
	for _, c := range categories {
		names = append(names, c.name)
	}
	names = append(names, "other")
	for _, n := range names {
		fmt.Fprintf(w, "| %s |", n)
		for _, proto := range []string{"h1", "h2c"} {
			b, l := got[proto+"bare"].by[n], got[proto+"lifeline"].by[n]
			fmt.Fprintf(w, " %.2f | %.2f | %+.2f |", b, l, l-b)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "| **total** |")
	for _, proto := range []string{"h1", "h2c"} {
		b, l := got[proto+"bare"].total, got[proto+"lifeline"].total
		fmt.Fprintf(w, " %.2f | %.2f | %+.2f |", b, l, l-b)
	}
	fmt.Fprintln(w)
	return nil
}
