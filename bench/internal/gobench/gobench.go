// Package gobench builds Go test binaries and runs their benchmarks,
// parsing the standard benchmark output ("BenchmarkX-2  1000  45 ns/op
// 16 B/op ...") into results the suite can compute ratios from.
package gobench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrNoResults is returned by [Binary.Run] when the benchmark printed no
// result line, for example because the pattern matched nothing.
var ErrNoResults = errors.New("gobench: no benchmark results")

// Result is one benchmark result line.
type Result struct {
	// Name is the benchmark's full name without the GOMAXPROCS suffix, as
	// in "BenchmarkOverhead/bare".
	Name string
	// N is the number of iterations.
	N int64
	// Metrics maps each unit ("ns/op", "allocs/op", "MB/s", custom units
	// from b.ReportMetric) to its value.
	Metrics map[string]float64
}

// Parse reads benchmark output and returns its result lines in order.
// procs is the GOMAXPROCS the benchmark ran with: when it is not 1, the
// "-procs" suffix the testing package appends to every name is removed.
// Lines that are not results (logs, PASS, headers) are skipped.
func Parse(r io.Reader, procs int) ([]Result, error) {
	var out []Result
	suffix := ""
	if procs != 1 {
		suffix = "-" + strconv.Itoa(procs)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		res, ok := parseLine(sc.Text(), suffix)
		if ok {
			out = append(out, res)
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("gobench: read output: %w", err)
	}
	return out, nil
}

// parseLine parses one result line: name, iterations, then value-unit
// pairs.
func parseLine(line, suffix string) (Result, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
		return Result{}, false
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return Result{}, false
	}
	res := Result{Name: strings.TrimSuffix(f[0], suffix), N: n, Metrics: make(map[string]float64)}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return Result{}, false
		}
		res.Metrics[f[i+1]] = v
	}
	return res, true
}

// Find returns the first result called name.
func Find(results []Result, name string) (Result, bool) {
	for _, r := range results {
		if r.Name == name {
			return r, true
		}
	}
	return Result{}, false
}

// Binary is a compiled test binary.
type Binary struct {
	// Path is the binary's file.
	Path string
	// Dir is the directory it runs in: its package's directory, so that
	// testdata is found.
	Dir string
	// Procs is the GOMAXPROCS it runs benchmarks with (-test.cpu).
	Procs int
}

// Build compiles the tests of pkg (a package path relative to repo, such
// as "./compress") into out with `go test -c`, run in the package's own
// directory: pkg may belong to the root module or to a nested one (bench/
// is a module of its own), and the go command finds the right go.mod from
// there, with or without the repository's go.work.
func Build(ctx context.Context, repo, pkg, out string, procs int) (*Binary, error) {
	out, err := filepath.Abs(out)
	if err != nil {
		return nil, fmt.Errorf("gobench: %w", err)
	}
	dir := filepath.Join(repo, pkg)
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", out, ".")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("gobench: go test -c %s: %w: %s", pkg, err, bytes.TrimSpace(b))
	}
	return &Binary{Path: out, Dir: dir, Procs: procs}, nil
}

// Command returns the go test command line equivalent to running the
// benchmark pattern with these extra flags, for reports.
func Command(pkg, pattern string, flags ...string) string {
	parts := []string{"go test -run '^$' -bench '" + pattern + "'"}
	for _, f := range flags {
		parts = append(parts, strings.Replace(f, "-test.", "-", 1))
	}
	return strings.Join(parts, " ") + " " + pkg
}

// Run runs the benchmarks matching pattern (no tests) with the extra
// -test.* flags (such as "-test.benchtime=1000x") and returns their results
// and the raw output.
func (b *Binary) Run(ctx context.Context, pattern string, flags ...string) ([]Result, []byte, error) {
	args := append([]string{"-test.run=^$", "-test.bench=" + pattern, "-test.cpu=" + strconv.Itoa(b.Procs)}, flags...)
	cmd := exec.CommandContext(ctx, b.Path, args...)
	cmd.Dir = b.Dir
	cmd.WaitDelay = 5 * time.Second // a server the benchmark started may hold the output open
	raw, err := cmd.CombinedOutput()
	if err != nil {
		return nil, raw, fmt.Errorf("gobench: %s %s: %w: %s", b.Path, strings.Join(args, " "), err, tail(raw, 2000))
	}
	res, err := Parse(bytes.NewReader(raw), b.Procs)
	if err != nil {
		return nil, raw, err
	}
	if len(res) == 0 {
		return nil, raw, fmt.Errorf("%w for %q: %s", ErrNoResults, pattern, tail(raw, 2000))
	}
	return res, raw, nil
}

func tail(b []byte, n int) []byte {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
