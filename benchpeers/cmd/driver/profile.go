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

// runtimeCategories split a server's CPU time spent in the runtime and the
// kernel by the stack of each sample, first match from the top of the list,
// the function anywhere in the stack: a sample in none of them is put by its
// innermost owner (see ownerCategories).
var runtimeCategories = []category{
	{"write syscall", []string{"internal/poll.(*FD).Write", "internal/poll.(*FD).Writev", "syscall.write"}},
	{"read syscall", []string{"internal/poll.(*FD).Read", "syscall.read"}},
	{"GC", []string{"runtime.gcBgMarkWorker", "runtime.gcAssistAlloc", "runtime.bgsweep", "runtime.bgscavenge"}},
	{"allocation", []string{"runtime.mallocgc", "runtime.newobject", "runtime.makeslice", "runtime.makemap"}},
	{"goroutine start/exit, stack growth", []string{"runtime.newproc", "runtime.goexit0", "runtime.gfget", "runtime.malg", "runtime.newstack", "runtime.morestack"}},
	{"scheduler and hand-offs", []string{"runtime.schedule", "runtime.findRunnable", "runtime.park_m", "runtime.goready", "runtime.selectgo", "runtime.chansend", "runtime.chanrecv", "runtime.futex", "runtime.wakep", "runtime.netpoll"}},
}

// lifelineCategories split the samples whose innermost owner is Lifeline
// (see ownerCategories) by that innermost Lifeline function, first match
// from the top of the list.
var lifelineCategories = []category{
	{"lifeline: final flush, Content-Length", []string{"output.(*Stack).EndAll", "lifeline.runSide.endOutput", "lifeline.runSide.endAll", "lifeline.(*runSink).finishResponse"}},
	{"lifeline: output stack", []string{"lifeline-go/lifeline/output."}},
	{"lifeline: writer and sink", []string{"lifeline.(*runWriter)", "lifeline.(*runSink)", "lifeline.copyHeader", "lifeline.copyTrailers", "lifeline.onlyContentLength"}},
	{"lifeline: run set-up", []string{"lifeline.(*route).", "lifeline.(*Pool).newRun", "lifeline.(*Pool).admit", "lifeline.(*Pool).takeSlot", "lifeline.(*Pool).startRun", "lifeline.(*Pool).armLate", "lifeline.(*exchange).reset", "lifeline.(*liveSet).add", "lifeline.(*liveSet).reserve"}},
	{"lifeline: end-of-run bookkeeping", []string{"lifeline.(*Pool).endRun", "lifeline.(*Pool).runEnded", "lifeline.(*Run).fillOutcome", "lifeline.(*Run).record", "lifeline.(*liveSet).remove", "lifeline.(*Run).emit", "lifeline.(*exchange).stopTimers"}},
	{"lifeline: engine hand-off", []string{"lifeline.(*connSide).", "lifeline.runSide.", "lifeline.(*Pool).runLoop", "lifeline.(*workers).", "lifeline.(*exchange).", "lifeline.(*Run).checkOutput", "lifeline.(*Run).safeCall", "lifeline.(*runContext)."}},
	{"lifeline: delivery and detector", []string{"lifeline.(*connWatch).", "lifeline.(*detector).", "lifeline.(*delivery).", "lifeline.(*h2conn).", "lifeline.(*h2tlsConn).", "lifeline.(*frameScan).", "lifeline.serveH2C", "lifeline.serveH2TLS", "lifeline.followHTTP2", "lifeline.(*Pool).ConfigureServer", "lifeline.connWatchFrom", "lifeline.baseWatch", "lifeline.(*Run).armDelivery", "lifeline.(*Run).releaseDelivery", "lifeline.(*Run).Delivery"}},
	{"lifeline: other", []string{"lifeline-go/lifeline"}},
}

// ownerCategories name who called the function a sample was in: the
// innermost function of the stack that belongs to one of them decides. So
// net/http's HTTP/2 server, which runs inside Lifeline's serveH2C, is
// net/http's, and the handler's writes reaching net/http from Lifeline's
// output stack are net/http's too, as they are in bare net/http.
var ownerCategories = []category{
	{"lifeline", []string{"github.com/lifeline-go/lifeline"}},
	{"net/http", []string{"net/http."}},
}

// category is one line of the breakdown: the functions that put a sample in it.
type category struct {
	name  string
	match []string // substrings of a function name
}

// categoryNames lists the breakdown's categories in the order of its table.
func categoryNames() []string {
	var names []string
	for _, c := range runtimeCategories {
		names = append(names, c.name)
	}
	for _, c := range lifelineCategories {
		names = append(names, c.name)
	}
	return append(names, "net/http", "other")
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

// categoryOf puts a sample in a category: runtime and kernel first (any
// function of the stack), then the innermost owner, then, for Lifeline, its
// innermost Lifeline function.
func categoryOf(smp *profile.Sample) string {
	var names []string // innermost first
	for _, loc := range smp.Location {
		for _, ln := range loc.Line {
			if ln.Function != nil {
				names = append(names, ln.Function.Name)
			}
		}
	}
	if c := firstMatch(runtimeCategories, names); c != "" {
		return c
	}
	for _, n := range names {
		switch matchOne(ownerCategories, n) {
		case "net/http":
			return "net/http"
		case "lifeline":
			return matchOne(lifelineCategories, n)
		}
	}
	return "other"
}

// firstMatch returns the first of cats that matches any of names, or "".
func firstMatch(cats []category, names []string) string {
	for _, c := range cats {
		for _, n := range names {
			for _, m := range c.match {
				if strings.Contains(n, m) {
					return c.name
				}
			}
		}
	}
	return ""
}

// matchOne returns the first of cats that matches name, or "".
func matchOne(cats []category, name string) string {
	for _, c := range cats {
		for _, m := range c.match {
			if strings.Contains(name, m) {
				return c.name
			}
		}
	}
	return ""
}

// breakdown is CPU µs per request by category of bare and Lifeline on one
// workload, over each protocol.
type breakdown struct {
	workload   string
	load       time.Duration // length of each profiled load run
	categories []string      // in the order of the table (categoryNames)
	// by and total are keyed by protocol then variant ("bare", "lifeline").
	by    map[string]map[string]map[string]float64
	total map[string]map[string]float64
}

// measureBreakdown profiles bare and Lifeline on hello over each protocol.
func measureBreakdown(ctx context.Context, cfg config, cpuRounds int) (*breakdown, error) {
	bd := &breakdown{workload: "hello", load: 4 * cfg.dur,
		by: map[string]map[string]map[string]float64{}, total: map[string]map[string]float64{}}
	bd.categories = categoryNames()
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
