// Package loadgen drives HTTP load with the external tools the suite
// uses, wrk (HTTP/1.1 keep-alive) and h2load (HTTP/2 cleartext), and
// parses what they print.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrParse is returned when a tool's output lacks the figures the suite
// needs.
var ErrParse = errors.New("loadgen: cannot parse output")

// Result is what one load run achieved.
type Result struct {
	// Requests is the number of responses received, whatever their status.
	Requests int64
	// Failed counts responses outside 2xx/3xx, socket errors and timeouts.
	Failed int64
	// Duration is the measured period.
	Duration time.Duration
	// RPS is the rate of successful responses: (Requests − non-2xx/3xx) per
	// second of Duration.
	RPS float64
	// Command is the command line that ran, for reports.
	Command string
	// CPU is the CPU time (user and system) the tool itself used: near
	// Duration × Threads, the tool, not the server, was the cap.
	CPU time.Duration
}

// Load describes a run: the tool's concurrency and how long it lasts.
type Load struct {
	// Conns is the number of connections (wrk -c, h2load -c).
	Conns int
	// Streams is the number of concurrent streams per HTTP/2 connection
	// (h2load -m); wrk ignores it.
	Streams int
	// Threads is the tool's number of threads (-t).
	Threads int
	// Duration is how long the measurement lasts (wrk -d, h2load -D).
	Duration time.Duration
	// Timeout is how long a request may take before it counts as failed
	// (wrk --timeout); 0 leaves the tool's default.
	Timeout time.Duration
	// CPUs, when set, runs the tool on these CPUs only (taskset -c CPUs),
	// to keep it off the server's.
	CPUs string
}

// WrkArgs returns wrk's arguments for l against url.
func WrkArgs(url string, l Load) []string {
	args := []string{"-t", strconv.Itoa(max(1, l.Threads)), "-c", strconv.Itoa(l.Conns), "-d", secs(l.Duration)}
	if l.Timeout > 0 {
		args = append(args, "--timeout", secs(l.Timeout))
	}
	return append(args, url)
}

// H2loadArgs returns h2load's arguments for l against an http:// url,
// which h2load speaks HTTP/2 to with prior knowledge (h2c).
func H2loadArgs(url string, l Load) []string {
	return []string{"-t", strconv.Itoa(max(1, l.Threads)), "-c", strconv.Itoa(l.Conns),
		"-m", strconv.Itoa(max(1, l.Streams)), "-D", secs(l.Duration), url}
}

func secs(d time.Duration) string {
	return strconv.Itoa(max(1, int((d+time.Second/2)/time.Second))) + "s"
}

// Wrk runs wrk with l against url and parses its summary.
func Wrk(ctx context.Context, url string, l Load) (Result, error) {
	return run(ctx, "wrk", WrkArgs(url, l), l, ParseWrk)
}

// H2load runs h2load with l against url and parses its summary.
func H2load(ctx context.Context, url string, l Load) (Result, error) {
	return run(ctx, "h2load", H2loadArgs(url, l), l, ParseH2load)
}

func run(ctx context.Context, tool string, args []string, l Load, parse func(string) (Result, error)) (Result, error) {
	if _, err := exec.LookPath(tool); err != nil {
		return Result{}, fmt.Errorf("loadgen: %s not found (%w); install it with `apt-get install -y wrk nghttp2-client` or `make deps`", tool, err)
	}
	if l.CPUs != "" {
		args = append([]string{"-c", l.CPUs, tool}, args...)
		tool = "taskset"
	}
	ctx, cancel := context.WithTimeout(ctx, l.Duration+l.Timeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	line := tool + " " + strings.Join(args, " ")
	if err != nil {
		return Result{}, fmt.Errorf("loadgen: %s: %w: %s", line, err, strings.TrimSpace(string(out)))
	}
	res, err := parse(string(out))
	if err != nil {
		return Result{}, fmt.Errorf("%w (%s)", err, line)
	}
	res.Command = line
	if ps := cmd.ProcessState; ps != nil {
		res.CPU = ps.UserTime() + ps.SystemTime()
	}
	return res, nil
}

var (
	wrkTotalRE  = regexp.MustCompile(`(\d+) requests in ([\d.]+)(us|ms|s|m|h),`)
	wrkSocketRE = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xxRE = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// ParseWrk parses wrk's summary.
func ParseWrk(out string) (Result, error) {
	m := wrkTotalRE.FindStringSubmatch(out)
	if m == nil {
		return Result{}, fmt.Errorf("%w: wrk: no request count: %q", ErrParse, out)
	}
	var res Result
	res.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	res.Duration = duration(m[2], m[3])
	var non2xx int64
	if m := wrkNon2xxRE.FindStringSubmatch(out); m != nil {
		non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	res.Failed = non2xx
	if m := wrkSocketRE.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			res.Failed += n
		}
	}
	if res.Duration <= 0 {
		return Result{}, fmt.Errorf("%w: wrk: zero duration", ErrParse)
	}
	res.RPS = float64(res.Requests-non2xx) / res.Duration.Seconds()
	return res, nil
}

var (
	h2FinishedRE = regexp.MustCompile(`finished in ([\d.]+)(us|ms|s|m|h), ([\d.]+) req/s`)
	h2RequestsRE = regexp.MustCompile(`requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
	h2StatusRE   = regexp.MustCompile(`status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx`)
)

// ParseH2load parses h2load's summary.
func ParseH2load(out string) (Result, error) {
	f := h2FinishedRE.FindStringSubmatch(out)
	r := h2RequestsRE.FindStringSubmatch(out)
	st := h2StatusRE.FindStringSubmatch(out)
	if f == nil || r == nil || st == nil {
		return Result{}, fmt.Errorf("%w: h2load: %q", ErrParse, out)
	}
	atoi := func(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }
	var res Result
	res.Duration = duration(f[1], f[2])
	res.Requests = atoi(r[3])
	ok := atoi(st[1]) + atoi(st[2])
	res.Failed = atoi(r[5]) + atoi(r[6]) + atoi(r[7]) + atoi(st[3]) + atoi(st[4])
	if res.Duration <= 0 {
		return Result{}, fmt.Errorf("%w: h2load: zero duration", ErrParse)
	}
	res.RPS = float64(ok) / res.Duration.Seconds()
	return res, nil
}

func duration(v, unit string) time.Duration {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0
	}
	mult := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	return time.Duration(f * float64(mult))
}
