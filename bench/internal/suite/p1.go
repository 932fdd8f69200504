package suite

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/gobench"
	"github.com/lifeline-go/lifeline/bench/internal/report"
	"github.com/lifeline-go/lifeline/bench/internal/stats"
)

const p1Goal = "requests/s through Lifeline ÷ bare net/http, side by side with http.TimeoutHandler and chi's Timeout+Recoverer, " +
	"four workloads over HTTP/1.1 (wrk) and h2c (h2load): hello ≥ 0.93 over HTTP/1.1 and ≥ 0.90 over h2c; 4 KB, 1 MB and ~50 µs " +
	"handlers ≥ 0.97; in every cell level with or ahead of both peers (≥ the peer's ratio − 0.08, the noise on this machine); " +
	"≤ 1 µs and ≤ 2 allocations extra per request (the root's BenchmarkOverhead)"

// p1Noise is the difference between two ratios of the same run that the
// suite calls noise: within it, Lifeline is level with a peer.
const p1Noise = 0.08

// p1RatioGoal returns the least ratio to bare net/http a cell must reach.
func p1RatioGoal(workload, proto string) float64 {
	switch {
	case workload == "hello" && proto == "h1":
		return 0.93
	case workload == "hello":
		return 0.90
	}
	return 0.97
}

// p1Peers is what the peers driver (benchpeers/cmd/driver -json) writes.
type p1Peers struct {
	Rounds         int               `json:"rounds"`
	DurationS      float64           `json:"duration_s"`
	WarmupS        float64           `json:"warmup_s"`
	CPURounds      int               `json:"cpu_rounds"`
	ElapsedS       float64           `json:"elapsed_s"`
	Variants       []string          `json:"variants"`
	LoadCommands   map[string]string `json:"load_commands"`
	VariantTitles  map[string]string `json:"variant_titles"`
	WorkloadTitles map[string]string `json:"workload_titles"`
	Groups         []struct {
		Workload string               `json:"workload"`
		Proto    string               `json:"proto"`
		RPS      map[string][]float64 `json:"rps"`
		Failures []string             `json:"failures"`
	} `json:"groups"`
	Breakdown *struct {
		Workload   string                                   `json:"workload"`
		LoadS      float64                                  `json:"load_s"`
		Categories []string                                 `json:"categories"`
		PerRequest map[string]map[string]map[string]float64 `json:"per_request_us"`
		Total      map[string]map[string]float64            `json:"total_us"`
	} `json:"breakdown"`
}

// p1PeerVariants are the driver's variants other than bare and Lifeline, in the
// order of the table.
var p1PeerVariants = []string{"timeouthandler", "chi"}

// p1 runs the peers driver (benchpeers/), renders its table, the goals per
// cell and the CPU breakdown, runs the driver's instr subcommand and renders
// its instruction and syscall counts, then runs the root package's
// BenchmarkOverhead.
func (r *runner) p1(ctx context.Context, s *report.Section) error {
	bin, err := r.p1BuildDriver(ctx)
	if err != nil {
		return err
	}
	peers, cmd, err := r.p1RunPeers(ctx, bin)
	if err != nil {
		return err
	}
	if err := p1Render(s, peers, cmd); err != nil {
		return err
	}
	in, cmd, err := r.p1RunInstr(ctx, bin)
	if err != nil {
		return err
	}
	if err := p1RenderInstr(s, in, cmd); err != nil {
		return err
	}
	return r.p1Overhead(ctx, s)
}

// p1BuildDriver builds the peers driver (benchpeers/cmd/driver) and returns
// the binary's path.
func (r *runner) p1BuildDriver(ctx context.Context) (string, error) {
	dir := filepath.Join(r.cfg.Repo, "benchpeers")
	bin := filepath.Join(r.tmp, "peers-driver")
	fmt.Fprintf(r.log, "suite: go build ./benchpeers/cmd/driver\n")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/driver")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("suite: build the peers driver in %s: %w: %s", dir, err, out)
	}
	return bin, nil
}

// p1RunDriver runs the driver binary with args and -json FILE in
// benchpeers/ and decodes the file into v.
func (r *runner) p1RunDriver(ctx context.Context, bin string, args []string, v any) error {
	dir := filepath.Join(r.cfg.Repo, "benchpeers")
	file := filepath.Join(r.tmp, "driver.json")
	_ = os.Remove(file)
	args = append(args, "-json", file)
	if dl, ok := ctx.Deadline(); ok {
		// The driver stops itself a little before the part's budget runs out.
		args = append(args, "-timeout", max(time.Until(dl)-10*time.Second, time.Second).Round(time.Second).String())
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	tail := &tailBuffer{max: 8 << 10}
	cmd.Stdout = io.MultiWriter(r.log, tail)
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("suite: peers driver %s: %w: %s", strings.Join(args, " "), err, tail)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("suite: peers driver: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("suite: peers driver: %w", err)
	}
	return nil
}

// p1RunPeers runs the peers driver with the run's sizes and decodes its
// JSON. It returns the command to show in the report.
func (r *runner) p1RunPeers(ctx context.Context, bin string) (*p1Peers, string, error) {
	args := []string{"-smoke"}
	if !r.cfg.Smoke {
		args = []string{"-rounds", fmt.Sprint(r.sz.p1Rounds), "-dur", r.sz.p1Duration.String(), "-warmup", r.sz.p1Warmup.String()}
	}
	shown := "cd benchpeers && go run ./cmd/driver " + strings.Join(args, " ") + " -json FILE"
	var p p1Peers
	if err := r.p1RunDriver(ctx, bin, args, &p); err != nil {
		return nil, "", err
	}
	if len(p.Groups) == 0 {
		return nil, "", fmt.Errorf("suite: peers driver measured nothing")
	}
	return &p, shown, nil
}

// p1Ratios returns the per-round ratios of variant to bare in g, skipping
// rounds where either is missing or bare served nothing.
func p1Ratios(rps map[string][]float64, variant string) []float64 {
	bare, v := rps["bare"], rps[variant]
	var out []float64
	for i := range min(len(bare), len(v)) {
		if bare[i] > 0 {
			out = append(out, v[i]/bare[i])
		}
	}
	return out
}

// p1Cell formats ratios as the peers table does: "0.87 (0.79–0.89)".
func p1Cell(r []float64) string {
	switch len(r) {
	case 0:
		return "—"
	case 1:
		return fmt.Sprintf("%.2f", r[0])
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", stats.Median(r), slices.Min(r), slices.Max(r))
}

// p1Against says how Lifeline's median ratio stands against a peer's:
// ahead beyond the noise, level within it, or behind.
func p1Against(life, peer float64) (string, report.Outcome) {
	// Rounded so that a difference of exactly the noise counts as level.
	switch d := math.Round((life-peer)*1e6) / 1e6; {
	case d > p1Noise:
		return fmt.Sprintf("ahead (%.2f)", peer), report.Met
	case d >= -p1Noise:
		return fmt.Sprintf("level (%.2f)", peer), report.Met
	default:
		return fmt.Sprintf("**behind** (%.2f, by %.2f)", peer, -d), report.NotMet
	}
}

// p1Render adds the peers table, a verdict per cell with its table, and
// the CPU breakdown to s.
func p1Render(s *report.Section, p *p1Peers, cmd string) error {
	title := func(v string) string {
		if t, ok := p.VariantTitles[v]; ok {
			return t
		}
		return v
	}
	dur := time.Duration(p.DurationS * float64(time.Second))
	s.Method = append(s.Method,
		"The same handler code is served four ways, each by a server process of its own started by the benchmark driver "+
			"(`benchpeers/cmd/driver`, a module of its own so that the library does not depend on chi): bare net/http; "+
			"`lifeline.NewPool()` with `pool.Middleware()` and `pool.ConfigureServer`; `http.TimeoutHandler(h, 30s)`; chi with "+
			"`middleware.Recoverer` and `middleware.Timeout(30s)`. The `http.Server`s are otherwise identical. Workloads: hello "+
			"(14 B in one write), 4 KB in 100 writes of 41 B, 1 MB in 32 writes of 32 KB, and ~50 µs of SHA-256 rounds then 1 KB "+
			fmt.Sprintf("(%d rounds, calibrated once and the same for every server).", p.CPURounds),
		fmt.Sprintf("For each workload and protocol the four servers run at once, pinned to CPU 0, and the load tool to CPU 1: "+
			"wrk over HTTP/1.1 keep-alive, h2load over h2c with prior knowledge. Every server must first answer 200 with the "+
			"workload's exact body over the protocol in use; one warm-up run of %v per server is not counted; then %s, each running every "+
			"variant for %v, the order rotating and reversing every other round. A cell is the median (min–max) of the per-round "+
			"ratios variant ÷ bare net/http from the same round. Differences under %.2f are noise on this machine: within it "+
			"Lifeline is level with a peer, and a cell's verdict is met when its ratio reaches the goal and Lifeline is level with "+
			"or ahead of both peers.",
			time.Duration(p.WarmupS*float64(time.Second)), report.Plural(p.Rounds, "round"), dur, p1Noise),
	)
	s.Commands = append(s.Commands, cmd)
	for _, proto := range []string{"h1", "h2c"} {
		if c, ok := p.LoadCommands[proto]; ok {
			s.Commands = append(s.Commands, c+"   # "+proto+", by the driver, once per variant and round")
		}
	}

	header := []string{"workload / protocol", title("lifeline")}
	for _, v := range p1PeerVariants {
		header = append(header, title(v))
	}
	header = append(header, "bare net/http req/s")
	ratioTable := report.Table{
		Caption: fmt.Sprintf("Requests/s of each variant ÷ bare net/http in the same round, median (min–max) of %s of %v (the run took %v):",
			report.Plural(p.Rounds, "round"), dur, time.Duration(p.ElapsedS*float64(time.Second)).Round(time.Second)),
		Header: header,
	}
	goalTable := report.Table{
		Caption: fmt.Sprintf("Against the goals, cell by cell (level: within %.2f of the peer):", p1Noise),
		Header:  []string{"cell", "ratio goal", "Lifeline", "ratio goal met?", "against " + title("timeouthandler"), "against " + title("chi"), "verdict"},
	}
	var failures []string
	for _, g := range p.Groups {
		name := g.Workload
		if t, ok := p.WorkloadTitles[g.Workload]; ok {
			name = t
		}
		name += " / " + g.Proto
		life := p1Ratios(g.RPS, "lifeline")
		if len(life) == 0 {
			return fmt.Errorf("suite: peers driver: no rounds for %s", name)
		}
		row := []string{name, p1Cell(life)}
		for _, v := range p1PeerVariants {
			row = append(row, p1Cell(p1Ratios(g.RPS, v)))
		}
		row = append(row, fmt.Sprintf("%.0f", stats.Median(g.RPS["bare"])))
		ratioTable.Rows = append(ratioTable.Rows, row)

		lm := stats.Median(life)
		goal := p1RatioGoal(g.Workload, g.Proto)
		outcome := report.AtLeast(lm, goal)
		goalText := "met"
		if outcome != report.Met {
			goalText = fmt.Sprintf("**not met** (%.2f short)", goal-lm)
		}
		grow := []string{name, fmt.Sprintf("≥ %.2f", goal), fmt.Sprintf("%.2f", lm), goalText}
		figure := report.Spread(life, report.Fixed(2, ""))
		for _, v := range p1PeerVariants {
			pr := p1Ratios(g.RPS, v)
			if len(pr) == 0 {
				return fmt.Errorf("suite: peers driver: no rounds of %s for %s", v, name)
			}
			text, o := p1Against(lm, stats.Median(pr))
			grow = append(grow, text)
			figure += "; " + title(v) + " " + strings.ReplaceAll(text, "**", "")
			outcome = report.All(outcome, o)
		}
		grow = append(grow, outcome.String())
		goalTable.Rows = append(goalTable.Rows, grow)
		s.Verdicts = append(s.Verdicts, report.Verdict{
			Measurement: "requests/s Lifeline ÷ bare net/http, " + name,
			Figure:      figure,
			Goal:        fmt.Sprintf("≥ %.2f and level with or ahead of both peers", goal),
			Outcome:     outcome,
			Command:     cmd,
		})
		for _, f := range g.Failures {
			failures = append(failures, name+": "+f)
		}
	}
	s.Tables = append(s.Tables, ratioTable, goalTable)
	if bd := p.Breakdown; bd != nil {
		protos := []string{"h1", "h2c"}
		header := []string{"category"}
		for _, pr := range protos {
			header = append(header, pr+" bare", pr+" Lifeline", pr+" extra")
		}
		t := report.Table{
			Caption: fmt.Sprintf("Where Lifeline's extra CPU per request goes, %s workload: a CPU profile of the bare and the Lifeline server "+
				"under %v of load each, a sample is the runtime's (syscalls, GC, allocation, goroutines and stacks, scheduler) when one of its functions "+
				"is on its stack, else net/http's or Lifeline's by the innermost of their functions on it, Lifeline's split by that function; µs of CPU per request "+
				"(extra = Lifeline − bare):", bd.Workload, time.Duration(bd.LoadS*float64(time.Second))),
			Header: header,
		}
		row := func(name string, get func(proto, variant string) float64) []string {
			out := []string{name}
			for _, pr := range protos {
				b, l := get(pr, "bare"), get(pr, "lifeline")
				out = append(out, fmt.Sprintf("%.2f", b), fmt.Sprintf("%.2f", l), fmt.Sprintf("%+.2f", l-b))
			}
			return out
		}
		for _, c := range bd.Categories {
			t.Rows = append(t.Rows, row(c, func(pr, v string) float64 { return bd.PerRequest[pr][v][c] }))
		}
		t.Rows = append(t.Rows, row("**total**", func(pr, v string) float64 { return bd.Total[pr][v] }))
		s.Tables = append(s.Tables, t)
	}
	if len(failures) == 0 {
		s.Notes = append(s.Notes, "wrk and h2load reported no errors, non-2xx responses or timeouts in any run, and the servers logged nothing.")
	} else {
		s.Notes = append(s.Notes, "Reported by the load tools or the servers: "+strings.Join(failures, "; ")+".")
	}
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
			Goal: "≤ 2", Outcome: report.AtMost(allocs, 2), Command: cmd},
	)
	s.Notes = append(s.Notes, fmt.Sprintf("RunParallel extra time: %s; extra allocations: %s (shown for information; the goal is judged on the serial figures).",
		report.Spread(extraNS[1], report.Fixed(0, " ns")), report.Spread(extraAllocs[1], report.Fixed(0, ""))))
	return nil
}

// p1Instr is what `driver instr -json` writes (benchpeers/cmd/driver,
// instrReport).
type p1Instr struct {
	N              int               `json:"n"`
	Warm           int               `json:"warm"`
	CPURounds      int               `json:"cpu_rounds"`
	ElapsedS       float64           `json:"elapsed_s"`
	Variants       []string          `json:"variants"`
	VariantTitles  map[string]string `json:"variant_titles"`
	WorkloadTitles map[string]string `json:"workload_titles"`
	Commands       []string          `json:"commands"`
	SyscallColumns []string          `json:"syscall_columns"`
	SyscallGroups  map[string]string `json:"syscall_groups"`
	Cells          []struct {
		Workload     string                        `json:"workload"`
		Proto        string                        `json:"proto"`
		Requests     int                           `json:"requests"`
		Instructions map[string]float64            `json:"instructions"`
		Syscalls     map[string]map[string]float64 `json:"syscalls"`
		Failures     []string                      `json:"failures"`
	} `json:"cells"`
}

// p1RunInstr runs `driver instr` with the run's sizes and decodes its
// JSON. It returns the command to show in the report.
func (r *runner) p1RunInstr(ctx context.Context, bin string) (*p1Instr, string, error) {
	args := []string{"instr"}
	if r.cfg.Smoke {
		args = append(args, "-smoke", "-workloads", "hello")
	} else {
		args = append(args, "-n", fmt.Sprint(r.sz.p1InstrN), "-warm", fmt.Sprint(r.sz.p1InstrWarm))
	}
	shown := "cd benchpeers && go run ./cmd/driver " + strings.Join(args, " ")
	var in p1Instr
	if err := r.p1RunDriver(ctx, bin, args, &in); err != nil {
		return nil, "", err
	}
	if len(in.Cells) == 0 {
		return nil, "", fmt.Errorf("suite: driver instr measured nothing")
	}
	return &in, shown, nil
}

// p1Thousands formats x rounded to a whole number with commas: 12,345.
func p1Thousands(x float64) string {
	s := fmt.Sprintf("%.0f", math.Abs(x))
	var b strings.Builder
	if math.Round(x) < 0 {
		b.WriteByte('-')
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// p1RenderInstr adds the instructions table and the syscalls table of
// `driver instr` to s, with their method and command.
func p1RenderInstr(s *report.Section, in *p1Instr, cmd string) error {
	title := func(v string) string {
		if t, ok := in.VariantTitles[v]; ok {
			return t
		}
		return v
	}
	cellName := func(workload, proto string) string {
		if t, ok := in.WorkloadTitles[workload]; ok {
			return t + " / " + proto
		}
		return workload + " / " + proto
	}
	s.Method = append(s.Method,
		"Requests/s on this shared 2-core machine move by 30–50 % between rounds, so the same servers are also measured in a way "+
			"that does not depend on the load: `driver instr` starts each variant server alone, pinned to CPU 0, under valgrind's "+
			"callgrind, sends "+report.Plural(in.Warm, "request")+" of warm-up, zeroes the counters "+
			"(`callgrind_control -z`), serves a fixed count of requests with the P1 load pinned to CPU 1 (h2load `-n N`: "+
			"32 connections over HTTP/1.1, 10 connections of 10 streams over h2c), checks that every one was answered 2xx, dumps "+
			"the counters (`callgrind_control -d`) and divides the server's user-space instructions by N. Connection set-up and "+
			"tear-down of the counted run are included, spread over N. In a second run without valgrind, `strace -c -f` attached "+
			"to all the server's threads counts its syscalls over the same N requests. Under valgrind the servers run with "+
			"`GODEBUG=asyncpreemptoff=1,adaptivestackstart=0`: valgrind does not deliver the runtime's preemption signals reliably, "+
			"and the runtime's adaptive start size of goroutine stacks lands on 2 or 4 KB from run to run, which moves a count "+
			"by some 15,000 instructions per stack growth; fixed at 2 KB, HTTP/2 (a goroutine per request) pays its stack growths "+
			fmt.Sprintf("every time. The cpu workload runs a fixed %d SHA-256 rounds here, not calibrated, so that counts compare across runs. ", in.CPURounds)+
			"Three runs of the whole table on 2026-12-07 gave every instruction count within 2 % of the other runs' in the hello, "+
			"4 KB and cpu cells (cpu within 0.1 %; one outlier, http.TimeoutHandler on 4 KB/h2c, 3.7 %) and within 6 % in the 1 MB "+
			"cells, where how the large writes interleave with the client's reading and HTTP/2 flow control moves the count "+
			"(selectgo and the scheduler lead that profile). Lifeline's extra over bare repeated as 7,407, 7,432 and 7,704 on "+
			"hello/h1 but 7,704, 9,060 and 5,908 on hello/h2c, so a difference of less than about 3,000 instructions between two "+
			"runs is noise (4 KB/h1: −454, +294, −269). Writes per request repeat exactly over HTTP/1.1 and within a few per cent "+
			"over h2c; reads, epoll_pwait, futex and nanosleep follow the timing and move more.",
		"Under callgrind the server runs some 50 times slower, so whatever the clock drives happens about 50 times as often per "+
			"request as it does natively: the runtime's sysmon wake-ups, timers, and Lifeline's 5 ms tick that arms the time limits "+
			"of runs still going (a run that lasts 5 ms is rare natively, common under valgrind). The instruction counts therefore "+
			"overstate time-driven work, and Lifeline's extra over bare, which has more of it, is if anything too high. strace slows every syscall too, which "+
			"moves the batching syscalls (epoll_pwait, futex, nanosleep) per request; writes and reads per request depend on the "+
			"protocol and the handler.",
	)
	s.Commands = append(s.Commands, cmd+" -json FILE   # instructions and syscalls per request")
	s.Commands = append(s.Commands, in.Commands...)

	header := []string{"workload / protocol", "N"}
	for _, v := range in.Variants {
		header = append(header, title(v))
	}
	header = append(header, "Lifeline extra")
	instr := report.Table{
		Caption: fmt.Sprintf("Server instructions per request under the same load, counted by callgrind (ratio to bare net/http in brackets; "+
			"`%s`, the run took %v):", cmd, time.Duration(in.ElapsedS*float64(time.Second)).Round(time.Second)),
		Header: header,
	}
	sysHeader := append([]string{"workload / protocol", "variant"}, in.SyscallColumns...)
	sys := report.Table{
		Caption: "Server syscalls per request over the same N requests, counted by `strace -c -f` without valgrind (write: write, writev, " +
			"sendmsg, sendto; read: read, readv, recvfrom, recvmsg; other: the rest, mostly accepting and closing connections):",
		Header: sysHeader,
	}
	var failures []string
	for _, c := range in.Cells {
		name := cellName(c.Workload, c.Proto)
		bare, ok := c.Instructions["bare"]
		if !ok || bare <= 0 {
			return fmt.Errorf("suite: driver instr: no count of bare net/http for %s", name)
		}
		row := []string{name, fmt.Sprint(c.Requests)}
		for _, v := range in.Variants {
			ir, ok := c.Instructions[v]
			switch {
			case !ok:
				row = append(row, "—")
			case v == "bare":
				row = append(row, p1Thousands(ir))
			default:
				row = append(row, fmt.Sprintf("%s (%.3f)", p1Thousands(ir), ir/bare))
			}
		}
		extra := c.Instructions["lifeline"] - bare
		sign := "+"
		if math.Round(extra) < 0 {
			sign = ""
		}
		row = append(row, sign+p1Thousands(extra))
		instr.Rows = append(instr.Rows, row)
		for _, v := range in.Variants {
			per, ok := c.Syscalls[v]
			if !ok {
				continue
			}
			grouped := map[string]float64{}
			for call, x := range per {
				switch col, ok := in.SyscallGroups[call]; {
				case call == "total":
					grouped["total"] += x
				case ok:
					grouped[col] += x
				default:
					grouped["other"] += x
				}
			}
			srow := []string{name, title(v)}
			for _, col := range in.SyscallColumns {
				srow = append(srow, fmt.Sprintf("%.2f", grouped[col]))
			}
			sys.Rows = append(sys.Rows, srow)
		}
		for _, f := range c.Failures {
			failures = append(failures, name+": "+f)
		}
	}
	s.Tables = append(s.Tables, instr)
	if len(sys.Rows) > 0 {
		s.Tables = append(s.Tables, sys)
	}
	if len(failures) == 0 {
		s.Notes = append(s.Notes, "Every counted request of driver instr was answered 2xx (h2load's own count), and the servers logged nothing.")
	} else {
		s.Notes = append(s.Notes, "Reported by the servers under driver instr: "+strings.Join(failures, "; ")+".")
	}
	return nil
}
