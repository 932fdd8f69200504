package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// `driver instr` counts what P1's servers spend per request in a way that
// does not depend on the machine's load: user-space instructions counted
// exactly by valgrind's callgrind, and system calls counted by strace.
// Every variant server is started as for the requests/s table (pinned to
// CPU 0, the load tool to CPU 1) and served the same concurrent load, but
// for a fixed number of requests (h2load -n), so that a count divided by
// the requests is the server's cost of one request under that load.
//
// Under callgrind the server runs some 50 times slower, so whatever is
// paced by the clock (the runtime's sysmon, Lifeline's 5 ms arming tick of
// time limits, timers) happens about 50 times as often per request as it
// does natively: the counts overstate time-driven work, most for the
// variant that has the most of it, so Lifeline's extra is if anything too
// high. Syscalls are counted in a separate run without valgrind; strace
// slows every syscall, which makes the batching syscalls (epoll_pwait,
// futex, nanosleep) rarer or more frequent than without it, while writes
// and reads per request depend on the protocol and the handler, not on
// the speed.

// instrGodebug is the server's GODEBUG under valgrind. Valgrind does not
// deliver the runtime's asynchronous preemption signals reliably; and the
// runtime's adaptive start size of goroutine stacks (2 or 4 KB, from the
// average it saw at the last GC) lands on either size from run to run,
// which moves the count per request by some 15,000 instructions for each
// stack growth that the other size avoids: fixed at 2 KB, the counts
// repeat.
const instrGodebug = "GODEBUG=asyncpreemptoff=1,adaptivestackstart=0"

// instrCPURounds is the cpu workload's SHA-256 rounds under driver instr:
// fixed rather than calibrated, so that counts compare across runs and
// machines (about 50 µs on the machine the figures come from).
const instrCPURounds = 350

// instrSyscallColumns are the syscall table's columns: each gathers the
// syscalls named in instrSyscallGroups; the rest is "other".
var instrSyscallColumns = []string{"write", "read", "epoll_pwait", "futex", "nanosleep", "other", "total"}

var instrSyscallGroups = map[string]string{
	"write": "write", "writev": "write", "sendmsg": "write", "sendto": "write", "pwrite64": "write",
	"read": "read", "readv": "read", "recvfrom": "read", "recvmsg": "read", "pread64": "read",
	"epoll_pwait": "epoll_pwait", "epoll_wait": "epoll_pwait", "epoll_pwait2": "epoll_pwait",
	"futex": "futex", "nanosleep": "nanosleep", "clock_nanosleep": "nanosleep",
}

// instrScale divides -n for the workloads that cost more per request, so
// that every cell takes about as long.
var instrScale = map[string]int{"hello": 1, "4k": 4, "cpu": 8, "1m": 20}

// instrMinRequests is the least count of a cell: h2load wants at least one
// request per client, and h1 runs 32 clients.
const instrMinRequests = 64

type instrConfig struct {
	n, warm   int
	strace    bool
	self, dir string
	cpuRounds int
	wl, pr    []string
}

// instrCell is one workload over one protocol: what each variant's server
// spent per request.
type instrCell struct {
	Workload string `json:"workload"`
	Proto    string `json:"proto"`
	Requests int    `json:"requests"` // counted per variant, all answered 2xx
	// Instructions is user-space instructions per request by variant.
	Instructions map[string]float64 `json:"instructions"`
	// Syscalls is syscalls per request by variant and syscall name
	// (strace's names, plus "total"); absent without -strace.
	Syscalls map[string]map[string]float64 `json:"syscalls,omitempty"`
	Failures []string                      `json:"failures"` // server messages
}

// instrReport is what `driver instr -json` writes. The benchmark suite
// (bench/internal/suite, P1) reads it, so a change here is a change there.
type instrReport struct {
	N              int               `json:"n"` // before instrScale
	Warm           int               `json:"warm"`
	CPURounds      int               `json:"cpu_rounds"`
	ElapsedS       float64           `json:"elapsed_s"`
	Variants       []string          `json:"variants"` // "bare" first
	VariantTitles  map[string]string `json:"variant_titles"`
	WorkloadTitles map[string]string `json:"workload_titles"`
	Commands       []string          `json:"commands"` // how one variant of one cell is measured
	SyscallColumns []string          `json:"syscall_columns"`
	SyscallGroups  map[string]string `json:"syscall_groups"` // strace name → column
	Cells          []instrCell       `json:"cells"`
}

func instrMain(args []string) error {
	fs := flag.NewFlagSet("instr", flag.ContinueOnError)
	n := fs.Int("n", 4000, "requests counted per variant for hello; 4k takes n/4, cpu n/8, 1m n/20 (at least 64)")
	warm := fs.Int("warm", 300, "warm-up requests per server, not counted (at least 64)")
	smoke := fs.Bool("smoke", false, "tiny counts (-n 200 -warm 50), to see that everything works")
	wl := fs.String("workloads", strings.Join(workloads, ","), "workloads to run")
	pr := fs.String("protos", strings.Join(protos, ","), "protocols to run")
	straceFlag := fs.Bool("strace", true, "also count syscalls per request (a run without valgrind, under strace -c)")
	timeout := fs.Duration("timeout", 30*time.Minute, "bound on the whole run")
	jsonFile := fs.String("json", "", "also write the counts to this file as JSON (see instrReport)")
	cpuRounds := fs.Int("cpurounds", instrCPURounds, "SHA-256 rounds of the cpu workload (fixed, so that counts compare across runs)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := instrConfig{n: *n, warm: *warm, strace: *straceFlag, cpuRounds: *cpuRounds,
		wl: strings.Split(*wl, ","), pr: strings.Split(*pr, ",")}
	if *smoke {
		cfg.n, cfg.warm = 200, 50
	}
	if cfg.n < 1 || cfg.warm < 1 || cfg.cpuRounds < 1 {
		return errors.New("-n, -warm and -cpurounds must be positive")
	}
	tools := []string{"taskset", "h2load", "valgrind", "callgrind_control"}
	if cfg.strace {
		tools = append(tools, "strace")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is needed: %w", tool, err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.self = self
	if cfg.dir, err = os.MkdirTemp("", "driver-instr-"); err != nil {
		return err
	}
	defer os.RemoveAll(cfg.dir)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	start := time.Now()
	var cells []instrCell
	for _, w := range cfg.wl {
		for _, p := range cfg.pr {
			c, err := instrRunCell(ctx, cfg, w, p)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", w, p, err)
			}
			cells = append(cells, c)
		}
	}
	rep := newInstrReport(cfg, cells, time.Since(start))
	printInstr(os.Stdout, rep)
	if *jsonFile != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return fmt.Errorf("json: %w", err)
		}
		if err := os.WriteFile(*jsonFile, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("json: %w", err)
		}
	}
	return nil
}

// instrRequests is the count of workload's cell.
func instrRequests(n int, workload string) int {
	return max(n/max(instrScale[workload], 1), instrMinRequests)
}

// instrLoadArgs is the load tool's command line for n requests: the
// connections and streams of the requests/s table, for a fixed count.
func instrLoadArgs(proto, url string, n int) []string {
	if proto == "h1" {
		return []string{"h2load", "--h1", "-t1", "-c32", "-n", strconv.Itoa(n), url}
	}
	return []string{"h2load", "-t1", "-c10", "-m10", "-n", strconv.Itoa(n), url}
}

// instrValgrindArgs is the valgrind command line the server runs under;
// dir receives its log and callgrind's dumps.
func instrValgrindArgs(dir string) []string {
	return []string{"valgrind", "--tool=callgrind", "--log-file=" + filepath.Join(dir, "valgrind.log"),
		"--callgrind-out-file=" + filepath.Join(dir, "callgrind.out")}
}

func newInstrReport(cfg instrConfig, cells []instrCell, elapsed time.Duration) instrReport {
	rep := instrReport{N: cfg.n, Warm: cfg.warm, CPURounds: cfg.cpuRounds, ElapsedS: elapsed.Seconds(),
		Variants: variants, VariantTitles: map[string]string{"bare": "bare net/http"}, WorkloadTitles: workloadTitle,
		SyscallColumns: instrSyscallColumns, SyscallGroups: instrSyscallGroups, Cells: cells}
	for _, c := range columns {
		rep.VariantTitles[c.variant] = c.title
	}
	serve := "driver serve -variant V -workload W -proto P -cpurounds " + strconv.Itoa(cfg.cpuRounds)
	h1 := strings.Join(append([]string{"taskset", "-c", "1"}, instrLoadArgs("h1", "URL", cfg.n)...), " ")
	h2 := strings.Join(append([]string{"taskset", "-c", "1"}, instrLoadArgs("h2c", "URL", cfg.n)...), " ")
	rep.Commands = []string{
		strings.Join(append(append([]string{instrGodebug, "taskset", "-c", "0"}, instrValgrindArgs("DIR")...), serve), " ") +
			"   # each variant server alone, then " + strconv.Itoa(cfg.warm) + " requests of warm-up",
		"callgrind_control -z PID; " + h1 + "; callgrind_control -d PID   # instructions per request: the dump's summary ÷ N; h2c: " + h2,
	}
	if cfg.strace {
		rep.Commands = append(rep.Commands, "taskset -c 0 "+serve+"; warm-up; strace -c -f -p PID during "+h1+"   # without valgrind: syscalls per request = calls ÷ N")
	}
	return rep
}

// instrRunCell measures every variant of one workload and protocol, one
// server at a time.
func instrRunCell(ctx context.Context, cfg instrConfig, workload, proto string) (instrCell, error) {
	n := instrRequests(cfg.n, workload)
	c := instrCell{Workload: workload, Proto: proto, Requests: n, Instructions: map[string]float64{}}
	if cfg.strace {
		c.Syscalls = map[string]map[string]float64{}
	}
	for _, v := range variants {
		args := []string{cfg.self, "serve", "-variant", v, "-workload", workload, "-proto", proto,
			"-cpurounds", strconv.Itoa(cfg.cpuRounds)}
		ir, msg, err := instrCallgrind(ctx, cfg, args, proto, bodyLen(workload), n)
		if err != nil {
			return c, fmt.Errorf("%s under callgrind: %w", v, err)
		}
		c.Instructions[v] = ir
		if msg != "" {
			c.Failures = append(c.Failures, v+" server stderr under valgrind: "+msg)
		}
		line := fmt.Sprintf("%s/%s %s: %.0f instructions/request", workload, proto, v, ir)
		if cfg.strace {
			sc, msg, err := instrStrace(ctx, cfg, args, proto, bodyLen(workload), n)
			if err != nil {
				return c, fmt.Errorf("%s under strace: %w", v, err)
			}
			c.Syscalls[v] = sc
			if msg != "" {
				c.Failures = append(c.Failures, v+" server stderr under strace: "+msg)
			}
			line += fmt.Sprintf(", %.2f syscalls/request", sc["total"])
		}
		logf("%s (%d requests)", line, n)
	}
	return c, nil
}

// instrCallgrind runs the server under callgrind, warms it up, zeroes the
// counters, serves n requests and dumps: it returns the instructions per
// request and what the server wrote to its stderr.
func instrCallgrind(ctx context.Context, cfg instrConfig, serve []string, proto string, bodyLen, n int) (float64, string, error) {
	dir, err := os.MkdirTemp(cfg.dir, "callgrind-")
	if err != nil {
		return 0, "", err
	}
	argv := append(append([]string{"taskset", "-c", "0"}, instrValgrindArgs(dir)...), serve...)
	s, err := startProc(ctx, []string{instrGodebug}, argv, 2*time.Minute)
	if err != nil {
		return 0, "", err
	}
	defer s.stop()
	pid := strconv.Itoa(s.cmd.Process.Pid) // taskset execs valgrind
	if err := check(ctx, s.url(), proto, bodyLen); err != nil {
		return 0, "", fmt.Errorf("%w: %s", err, s.stderr)
	}
	if err := instrLoad(ctx, proto, s.url(), max(cfg.warm, instrMinRequests)); err != nil {
		return 0, "", fmt.Errorf("warm-up: %w", err)
	}
	if err := callgrindControl(ctx, "-z", pid); err != nil {
		return 0, "", err
	}
	if err := instrLoad(ctx, proto, s.url(), n); err != nil {
		return 0, "", err
	}
	if err := callgrindControl(ctx, "-d", pid); err != nil {
		return 0, "", err
	}
	b, err := os.ReadFile(filepath.Join(dir, "callgrind.out.1"))
	if err != nil {
		return 0, "", fmt.Errorf("callgrind dump: %w", err)
	}
	ir, err := parseCallgrindSummary(b)
	if err != nil {
		return 0, "", err
	}
	return float64(ir) / float64(n), s.stderr.String(), nil
}

// callgrindControl sends a command (-z: zero the counters, -d: dump them)
// to the callgrind process pid and waits for its answer.
func callgrindControl(ctx context.Context, command, pid string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "callgrind_control", command, pid).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("OK")) {
		return fmt.Errorf("callgrind_control %s %s: %v: %s", command, pid, err, out)
	}
	return nil
}

var (
	cgSummary       = regexp.MustCompile(`(?m)^summary:\s+(\d+)`)
	cgTotals        = regexp.MustCompile(`(?m)^totals:\s+(\d+)`)
	errNoSummary    = errors.New("no summary line")
	errNotAllServed = errors.New("not every request was answered 2xx")
)

// parseCallgrindSummary returns the instruction count (the first event,
// Ir) of a callgrind dump.
func parseCallgrindSummary(b []byte) (uint64, error) {
	m := cgSummary.FindSubmatch(b)
	if m == nil {
		m = cgTotals.FindSubmatch(b)
	}
	if m == nil {
		return 0, fmt.Errorf("callgrind dump: %w", errNoSummary)
	}
	return strconv.ParseUint(string(m[1]), 10, 64)
}

// instrLoad runs n requests with the load tool pinned to CPU 1 and wants
// every one of them answered 2xx.
func instrLoad(ctx context.Context, proto, url string, n int) error {
	args := instrLoadArgs(proto, url, n)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "taskset", append([]string{"-c", "1"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s: %w: %s %s", args[0], err, out, stderr.String())
	}
	return checkCount(string(out), n)
}

// checkCount wants h2load's output to report n requests done, all
// succeeded and all 2xx.
func checkCount(out string, n int) error {
	m := h2Requests.FindStringSubmatch(out)
	s := h2Status.FindStringSubmatch(out)
	if m == nil || s == nil {
		return fmt.Errorf("h2load: %w: no requests or status line: %q", errNotAllServed, out)
	}
	want := strconv.Itoa(n)
	if m[1] != want || m[3] != want || m[4] != want || s[1] != want {
		return fmt.Errorf("h2load: %w: %s total, %s done, %s succeeded, %s 2xx, want %d", errNotAllServed, m[1], m[3], m[4], s[1], n)
	}
	return nil
}

// instrStrace runs the server natively, warms it up, attaches strace -c to
// all its threads, serves n requests and returns the syscalls per request
// by name (and "total") and what the server wrote to its stderr.
func instrStrace(ctx context.Context, cfg instrConfig, serve []string, proto string, bodyLen, n int) (map[string]float64, string, error) {
	s, err := startProc(ctx, nil, append([]string{"taskset", "-c", "0"}, serve...), 15*time.Second)
	if err != nil {
		return nil, "", err
	}
	defer s.stop()
	pid := s.cmd.Process.Pid // taskset execs the server
	if err := check(ctx, s.url(), proto, bodyLen); err != nil {
		return nil, "", fmt.Errorf("%w: %s", err, s.stderr)
	}
	if err := instrLoad(ctx, proto, s.url(), max(cfg.warm, instrMinRequests)); err != nil {
		return nil, "", fmt.Errorf("warm-up: %w", err)
	}
	file := filepath.Join(cfg.dir, "strace.txt")
	st := exec.CommandContext(ctx, "strace", "-c", "-f", "-o", file, "-p", strconv.Itoa(pid))
	var stErr headBuffer
	st.Stderr = &stErr
	if err := st.Start(); err != nil {
		return nil, "", err
	}
	stDone := make(chan error, 1)
	go func() { stDone <- st.Wait() }()
	if err := waitTraced(ctx, pid, st.Process.Pid, stDone); err != nil {
		_ = st.Process.Kill()
		return nil, "", fmt.Errorf("strace: %w: %s", err, stErr.String())
	}
	loadErr := instrLoad(ctx, proto, s.url(), n)
	_ = st.Process.Signal(syscall.SIGINT)
	// strace detaches on SIGINT, writes its table and ends by the signal.
	if err := <-stDone; err != nil && !interrupted(err) {
		return nil, "", fmt.Errorf("strace: %w: %s", err, stErr.String())
	}
	if loadErr != nil {
		return nil, "", loadErr
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, "", fmt.Errorf("strace: %w", err)
	}
	defer f.Close()
	calls, err := parseStraceSummary(f)
	if err != nil {
		return nil, "", err
	}
	per := map[string]float64{}
	for name, c := range calls {
		per[name] = float64(c) / float64(n)
	}
	return per, s.stderr.String(), nil
}

// interrupted reports whether err is a process's end by SIGINT.
func interrupted(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGINT
}

// waitTraced waits until every thread of pid has tracer as its tracer
// (strace -f -p attaches to the threads one by one).
func waitTraced(ctx context.Context, pid, tracer int, done <-chan error) error {
	want := strconv.Itoa(tracer)
	deadline := time.Now().Add(30 * time.Second)
	for {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
		if err != nil {
			return err
		}
		all := len(tasks) > 0
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil || tracerPid(b) != want {
				all = false
				break
			}
		}
		if all {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("not attached to every thread within 30s")
		}
		select {
		case err := <-done:
			return fmt.Errorf("exited before attaching: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// tracerPid returns the TracerPid field of a /proc/.../status file.
func tracerPid(status []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "TracerPid:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// parseStraceSummary reads strace -c's table and returns the calls by
// syscall name, with their sum as "total".
func parseStraceSummary(r io.Reader) (map[string]int, error) {
	calls := map[string]int{}
	sc := bufio.NewScanner(r)
	header := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) > 0 && f[0] == "%":
			header = true
			continue
		case !header || len(f) < 5 || strings.HasPrefix(f[0], "---") || f[len(f)-1] == "total":
			continue
		}
		c, err := strconv.Atoi(f[3])
		if err != nil {
			return nil, fmt.Errorf("strace summary: calls in %q: %w", sc.Text(), err)
		}
		calls[f[len(f)-1]] += c
		calls["total"] += c
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("strace summary: %w", err)
	}
	if !header {
		return nil, errors.New("strace summary: no table")
	}
	return calls, nil
}

// instrGrouped returns the syscall table's columns from per-name counts.
func instrGrouped(per map[string]float64) map[string]float64 {
	g := map[string]float64{}
	for name, v := range per {
		switch col, ok := instrSyscallGroups[name]; {
		case name == "total":
			g["total"] += v
		case ok:
			g[col] += v
		default:
			g["other"] += v
		}
	}
	return g
}

// printInstr prints the instructions table and the syscalls table.
func printInstr(w io.Writer, rep instrReport) {
	fmt.Fprintf(w, "Server instructions per request (valgrind callgrind, user space), the server pinned to CPU 0 and the load tool to CPU 1, "+
		"%d requests of warm-up, then -n N counted (hello N=%d; 4k, cpu and 1m fewer) with every answer 2xx; ratio to bare net/http in brackets; "+
		"run took %v:\n\n", rep.Warm, rep.N, time.Duration(rep.ElapsedS*float64(time.Second)).Round(time.Second))
	header, rows := instrTable(rep)
	printMarkdown(w, header, rows)
	if header, rows := instrSyscallTable(rep); rows != nil {
		fmt.Fprintln(w, "\nSyscalls per request (strace -c -f over the same -n run, without valgrind):")
		fmt.Fprintln(w)
		printMarkdown(w, header, rows)
	}
	var failures []string
	for _, c := range rep.Cells {
		for _, f := range c.Failures {
			failures = append(failures, c.Workload+"/"+c.Proto+" "+f)
		}
	}
	if len(failures) > 0 {
		fmt.Fprintln(w, "\nReported by the servers:")
		for _, f := range failures {
			fmt.Fprintln(w, "- "+f)
		}
	}
}

// instrTable returns the instructions table: per cell, every variant's
// instructions per request with its ratio to bare, and Lifeline's extra.
func instrTable(rep instrReport) ([]string, [][]string) {
	header := []string{"workload / protocol", "N"}
	for _, v := range rep.Variants {
		header = append(header, rep.VariantTitles[v])
	}
	header = append(header, "Lifeline extra")
	var rows [][]string
	for _, c := range rep.Cells {
		bare := c.Instructions["bare"]
		row := []string{rep.WorkloadTitles[c.Workload] + " / " + c.Proto, strconv.Itoa(c.Requests)}
		for _, v := range rep.Variants {
			ir := c.Instructions[v]
			if v == "bare" {
				row = append(row, thousands(ir))
				continue
			}
			row = append(row, fmt.Sprintf("%s (%.3f)", thousands(ir), ir/bare))
		}
		extra := c.Instructions["lifeline"] - bare
		sign := "+"
		if extra < 0 {
			sign = ""
		}
		row = append(row, sign+thousands(extra))
		rows = append(rows, row)
	}
	return header, rows
}

// instrSyscallTable returns the syscalls table, one row per cell and
// variant; nil rows when syscalls were not counted.
func instrSyscallTable(rep instrReport) ([]string, [][]string) {
	header := append([]string{"workload / protocol", "variant"}, rep.SyscallColumns...)
	var rows [][]string
	for _, c := range rep.Cells {
		if c.Syscalls == nil {
			continue
		}
		for _, v := range rep.Variants {
			g := instrGrouped(c.Syscalls[v])
			row := []string{rep.WorkloadTitles[c.Workload] + " / " + c.Proto, rep.VariantTitles[v]}
			for _, col := range rep.SyscallColumns {
				row = append(row, fmt.Sprintf("%.2f", g[col]))
			}
			rows = append(rows, row)
		}
	}
	return header, rows
}

func printMarkdown(w io.Writer, header []string, rows [][]string) {
	fmt.Fprintln(w, "| "+strings.Join(header, " | ")+" |")
	fmt.Fprintln(w, "|"+strings.Repeat("---|", len(header)))
	for _, r := range rows {
		fmt.Fprintln(w, "| "+strings.Join(r, " | ")+" |")
	}
}

// thousands formats x rounded to a whole number with commas: 12,345.
func thousands(x float64) string {
	s := strconv.FormatFloat(x, 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	if neg {
		return "-" + string(b)
	}
	return string(b)
}
