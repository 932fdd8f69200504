package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Columns of the table, in order, with their headings.
var columns = []struct{ variant, title string }{
	{"lifeline", "Lifeline"},
	{"timeouthandler", "http.TimeoutHandler"},
	{"chi", "chi Timeout+Recoverer"},
}

// workloadTitle names a workload in the table.
var workloadTitle = map[string]string{
	"hello": "hello (14 B)",
	"4k":    "4 KB in 100 writes",
	"1m":    "1 MB in 32 KB writes",
	"cpu":   "~50 µs CPU, 1 KB",
}

type config struct {
	rounds  int
	dur     time.Duration
	warmup  time.Duration
	verbose bool
	self    string
	wl, pr  []string
}

// group is one workload over one protocol: its per-round requests/s by
// variant and the failures the load tool reported.
type group struct {
	workload, proto string
	rps             map[string][]float64
	failures        []string
}

func driveMain(args []string) error {
	fs := flag.NewFlagSet("driver", flag.ContinueOnError)
	rounds := fs.Int("rounds", 6, "rounds per workload and protocol (each runs every variant once)")
	dur := fs.Duration("dur", 2*time.Second, "length of one load run (wrk takes whole seconds: rounded up)")
	warmup := fs.Duration("warmup", time.Second, "warm-up run per server, not counted")
	smoke := fs.Bool("smoke", false, "1 round of 0.5 s (wrk: 1 s), to see that everything works")
	wl := fs.String("workloads", strings.Join(workloads, ","), "workloads to run")
	pr := fs.String("protos", strings.Join(protos, ","), "protocols to run")
	verbose := fs.Bool("v", false, "also print every round's requests/s")
	profileFlag := fs.Bool("profile", true, "after the table, profile bare and Lifeline on hello and print Lifeline's extra CPU per request by category")
	timeout := fs.Duration("timeout", 30*time.Minute, "bound on the whole run")
	jsonFile := fs.String("json", "", "also write every round's figures and the breakdown to this file as JSON (see jsonReport)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := config{rounds: *rounds, dur: *dur, warmup: *warmup, verbose: *verbose,
		wl: strings.Split(*wl, ","), pr: strings.Split(*pr, ",")}
	if *smoke {
		cfg.rounds, cfg.dur, cfg.warmup = 1, 500*time.Millisecond, 200*time.Millisecond
	}
	if cfg.rounds < 1 || cfg.dur <= 0 || cfg.warmup <= 0 {
		return errors.New("-rounds, -dur and -warmup must be positive")
	}
	for _, tool := range []string{"taskset", "wrk", "h2load"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is needed: %w", tool, err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.self = self
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	start := time.Now()
	out, err := exec.CommandContext(ctx, "taskset", "-c", "0", self, "calibrate").Output()
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	cpuRounds, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return fmt.Errorf("calibrate: %q: %w", out, err)
	}
	logf("cpu workload: %d SHA-256 rounds for ~%v (calibrated on CPU 0)", cpuRounds, cpuTarget)

	var groups []*group
	for _, w := range cfg.wl {
		for _, p := range cfg.pr {
			g, err := runGroup(ctx, cfg, w, p, cpuRounds)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", w, p, err)
			}
			groups = append(groups, g)
		}
	}
	elapsed := time.Since(start).Round(time.Second)
	printTable(os.Stdout, cfg, groups, cpuRounds, elapsed)
	var bd *breakdown
	if *profileFlag {
		if bd, err = measureBreakdown(ctx, cfg, cpuRounds); err != nil {
			return err
		}
		printBreakdown(os.Stdout, bd)
	}
	if *jsonFile != "" {
		rep := newJSONReport(cfg, groups, bd, cpuRounds, time.Since(start))
		if err := writeJSON(*jsonFile, rep); err != nil {
			return err
		}
	}
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// runGroup starts the four variant servers of one workload and protocol,
// checks their answers, warms them up and runs the rounds.
func runGroup(ctx context.Context, cfg config, workload, proto string, cpuRounds int) (*group, error) {
	g := &group{workload: workload, proto: proto, rps: map[string][]float64{}}
	servers := map[string]*server{}
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	for _, v := range variants {
		s, err := startServer(ctx, cfg.self, "-variant", v, "-workload", workload, "-proto", proto,
			"-cpurounds", strconv.Itoa(cpuRounds))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v, err)
		}
		servers[v] = s
	}
	for _, v := range variants {
		if err := check(ctx, servers[v].url(), proto, bodyLen(workload)); err != nil {
			return nil, fmt.Errorf("%s: %w: %s", v, err, servers[v].stderr.String())
		}
	}
	for _, v := range variants {
		if _, err := load(ctx, proto, servers[v].url(), cfg.warmup); err != nil {
			return nil, fmt.Errorf("%s warm-up: %w", v, err)
		}
	}
	for round := range cfg.rounds {
		order := rotate(variants, round)
		var line []string
		for _, v := range order {
			res, err := load(ctx, proto, servers[v].url(), cfg.dur)
			if err != nil {
				return nil, fmt.Errorf("%s round %d: %w", v, round+1, err)
			}
			if res.failed != "" {
				g.failures = append(g.failures, fmt.Sprintf("%s round %d: %s", v, round+1, res.failed))
			}
			g.rps[v] = append(g.rps[v], res.rps)
			line = append(line, fmt.Sprintf("%s %.0f", v, res.rps))
		}
		logf("%s/%s round %d: %s", workload, proto, round+1, strings.Join(line, ", "))
	}
	for _, v := range variants {
		if s := servers[v].stderr.String(); s != "" {
			g.failures = append(g.failures, fmt.Sprintf("%s server stderr: %s", v, s))
		}
	}
	return g, nil
}

// rotate returns round's order of the variants: rotated by the round and
// reversed every other round.
func rotate(vs []string, round int) []string {
	n := len(vs)
	out := make([]string, n)
	for i := range vs {
		out[i] = vs[(i+round)%n]
	}
	if round%2 == 1 {
		slices.Reverse(out)
	}
	return out
}

// server is a variant server the driver started, pinned to CPU 0.
type server struct {
	cmd    *exec.Cmd
	addr   string
	stderr *headBuffer
	done   chan struct{}
}

func (s *server) url() string { return "http://" + s.addr + "/" }

func startServer(ctx context.Context, self string, args ...string) (*server, error) {
	return startProc(ctx, nil, append([]string{"taskset", "-c", "0", self, "serve"}, args...), 15*time.Second)
}

// startProc starts argv (with env added to the driver's environment) and
// waits up to wait for its first line, "listening on ADDR".
func startProc(ctx context.Context, env, argv []string, wait time.Duration) (*server, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s := &server{cmd: cmd, stderr: &headBuffer{}, done: make(chan struct{})}
	cmd.Stderr = s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { _ = cmd.Wait(); close(s.done) }()
	select {
	case line := <-lines:
		if addr, ok := strings.CutPrefix(line, "listening on "); ok {
			s.addr = addr
			return s, nil
		}
	case <-time.After(wait):
	}
	s.stop()
	return nil, fmt.Errorf("server %s did not start: %s", strings.Join(argv, " "), s.stderr)
}

// stop kills the server (it serves until killed) and waits for it.
func (s *server) stop() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// headBuffer keeps the first 4 KB written to it, safe for a writer and a
// reader.
type headBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (h *headBuffer) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := 4096 - h.b.Len(); n > 0 {
		h.b.Write(p[:min(len(p), n)])
	}
	return len(p), nil
}

func (h *headBuffer) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.TrimSpace(h.b.String())
}

// check asks the server once and wants a 200 with the workload's body
// length, over the protocol the load tool will use.
func check(ctx context.Context, url, proto string, want int) error {
	var p http.Protocols
	if proto == "h2c" {
		p.SetUnencryptedHTTP2(true)
	} else {
		p.SetHTTP1(true)
	}
	tr := &http.Transport{Protocols: &p}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for range 3 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		res, err := c.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK || len(body) != want {
			return fmt.Errorf("check: status %d, %d bytes, want 200 and %d bytes", res.StatusCode, len(body), want)
		}
		if wantProto := map[string]int{"h1": 1, "h2c": 2}[proto]; res.ProtoMajor != wantProto {
			return fmt.Errorf("check: answered over %s, want %s", res.Proto, proto)
		}
	}
	return nil
}

// result is one load run: requests/s and, if any, what failed.
type result struct {
	rps    float64
	failed string
}

// loadArgs returns the load tool's command line for proto.
func loadArgs(proto, url string, d time.Duration) []string {
	if proto == "h1" {
		secs := int(math.Ceil(d.Seconds()))
		return []string{"wrk", "-t1", "-c32", fmt.Sprintf("-d%ds", max(secs, 1)), url}
	}
	return []string{"h2load", "-t1", "-c10", "-m10", "-D" + h2dur(d), url}
}

func h2dur(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.Itoa(int(d / time.Second))
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// load runs the protocol's load tool pinned to CPU 1 and parses its output.
func load(ctx context.Context, proto, url string, d time.Duration) (result, error) {
	args := loadArgs(proto, url, d)
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "taskset", append([]string{"-c", "1"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("%s: %w: %s %s", args[0], err, out, stderr.String())
	}
	if proto == "h1" {
		return parseWrk(string(out))
	}
	return parseH2load(string(out))
}

var (
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	wrkSocket   = regexp.MustCompile(`Socket errors:[^\n]*`)
	h2RPS       = regexp.MustCompile(`finished in [\d.]+\w+, ([\d.]+) req/s`)
	h2Requests  = regexp.MustCompile(`requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
	h2Status    = regexp.MustCompile(`status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx`)
	errNoFigure = errors.New("no requests/s in the output")
)

func parseWrk(out string) (result, error) {
	m := wrkRPS.FindStringSubmatch(out)
	if m == nil {
		return result{}, fmt.Errorf("wrk: %w: %q", errNoFigure, out)
	}
	rps, _ := strconv.ParseFloat(m[1], 64)
	var failed []string
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		failed = append(failed, m[1]+" non-2xx")
	}
	if m := wrkSocket.FindString(out); m != "" {
		failed = append(failed, m)
	}
	return result{rps: rps, failed: strings.Join(failed, "; ")}, nil
}

func parseH2load(out string) (result, error) {
	m := h2RPS.FindStringSubmatch(out)
	if m == nil {
		return result{}, fmt.Errorf("h2load: %w: %q", errNoFigure, out)
	}
	rps, _ := strconv.ParseFloat(m[1], 64)
	var failed []string
	if m := h2Requests.FindStringSubmatch(out); m != nil {
		if m[5] != "0" || m[6] != "0" || m[7] != "0" {
			failed = append(failed, fmt.Sprintf("%s failed, %s errored, %s timeout (of %s done)", m[5], m[6], m[7], m[3]))
		}
	} else {
		failed = append(failed, "no requests line")
	}
	if m := h2Status.FindStringSubmatch(out); m != nil {
		if m[2] != "0" || m[3] != "0" || m[4] != "0" {
			failed = append(failed, fmt.Sprintf("status codes %s 3xx, %s 4xx, %s 5xx", m[2], m[3], m[4]))
		}
	}
	return result{rps: rps, failed: strings.Join(failed, "; ")}, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratios returns the per-round ratios v ÷ bare.
func (g *group) ratios(v string) []float64 {
	var r []float64
	for i, b := range g.rps["bare"] {
		r = append(r, g.rps[v][i]/b)
	}
	return r
}

func cell(r []float64) string {
	if len(r) == 1 {
		return fmt.Sprintf("%.2f", r[0])
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", median(r), slices.Min(r), slices.Max(r))
}

func printTable(w io.Writer, cfg config, groups []*group, cpuRounds int, elapsed time.Duration) {
	fmt.Fprintf(w, "Requests/s of each variant ÷ bare net/http in the same round: median (min–max) of %d rounds of %v; "+
		"servers pinned to CPU 0, load tool to CPU 1; cpu workload %d SHA-256 rounds; run took %v.\n\n",
		cfg.rounds, cfg.dur, cpuRounds, elapsed)
	fmt.Fprint(w, "| workload / protocol |")
	for _, c := range columns {
		fmt.Fprintf(w, " %s |", c.title)
	}
	fmt.Fprintln(w, " bare net/http req/s |")
	fmt.Fprintln(w, "|---|---|---|---|---:|")
	for _, g := range groups {
		fmt.Fprintf(w, "| %s / %s |", workloadTitle[g.workload], g.proto)
		for _, c := range columns {
			fmt.Fprintf(w, " %s |", cell(g.ratios(c.variant)))
		}
		fmt.Fprintf(w, " %.0f |\n", median(g.rps["bare"]))
	}
	fmt.Fprintln(w)
	var failures []string
	for _, g := range groups {
		for _, f := range g.failures {
			failures = append(failures, fmt.Sprintf("%s/%s %s", g.workload, g.proto, f))
		}
	}
	if len(failures) == 0 {
		fmt.Fprintln(w, "No errors, non-2xx responses or server messages in any run.")
	} else {
		fmt.Fprintln(w, "Reported by the load tools or the servers:")
		for _, f := range failures {
			fmt.Fprintln(w, "- "+f)
		}
	}
	if cfg.verbose {
		fmt.Fprintln(w, "\n| workload / protocol | round | bare | lifeline | timeouthandler | chi |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
		for _, g := range groups {
			for i := range g.rps["bare"] {
				fmt.Fprintf(w, "| %s / %s | %d |", g.workload, g.proto, i+1)
				for _, v := range variants {
					fmt.Fprintf(w, " %.0f |", g.rps[v][i])
				}
				fmt.Fprintln(w)
			}
		}
	}
}
