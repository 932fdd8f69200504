package suite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/gobench"
	"github.com/lifeline-go/lifeline/bench/internal/report"
)

// ErrPartsFailed is returned by [Run] when some parts could not be
// measured; the report is written all the same, saying why.
var ErrPartsFailed = errors.New("suite: some parts could not be measured")

// runner holds what the parts share during one run.
type runner struct {
	cfg  Config
	sz   sizes
	log  io.Writer
	tmp  string                     // scratch directory, removed at the end
	bins map[string]*gobench.Binary // compiled test binaries by package
}

// part is one part of the suite.
type part struct {
	id     string
	title  string
	goal   string
	budget time.Duration // time limit of the full run's part
	run    func(r *runner, ctx context.Context, s *report.Section) error
}

func parts() []part {
	return []part{
		{"P1", "Throughput against the peers and per-request overhead", p1Goal, 12 * time.Minute, (*runner).p1},
		{"P2", "Closed-client detection latency", p2Goal, 2 * time.Minute, (*runner).p2},
		{"P3", "Silent-peer detection", p3Goal, 3 * time.Minute, (*runner).p3},
		{"P4", "Early answer: Finish to complete body, connection reuse", p4Goal, 2 * time.Minute, (*runner).p4},
		{"P5", "Answer, then 200 ms of work: Lifeline against PHP-FPM", p5Goal, 7 * time.Minute, (*runner).p5},
		{"P6", "Scale: 100,000 runs in flight", p6Goal, 6 * time.Minute, (*runner).p6},
		{"P7", "Compression speed against compress/gzip", p7Goal, 4 * time.Minute, (*runner).p7},
		{"P8", "Session lock hand-off after WriteClose", p8Goal, 3 * time.Minute, (*runner).p8},
	}
}

// Run runs the configured parts, writes the report and its plots, and
// returns the report. Progress goes to log. A part that fails is reported
// as not measured, the others still run, and Run returns an error
// matching [ErrPartsFailed] after writing the report.
func Run(ctx context.Context, cfg Config, log io.Writer) (*report.Doc, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("suite: %w", err)
	}
	tmp, err := os.MkdirTemp("", "lifeline-bench-")
	if err != nil {
		return nil, fmt.Errorf("suite: %w", err)
	}
	defer os.RemoveAll(tmp)
	r := &runner{cfg: cfg, sz: fullSizes(), log: log, tmp: tmp, bins: make(map[string]*gobench.Binary)}
	if cfg.Smoke {
		r.sz = smokeSizes()
	}
	start := time.Now()
	before := machine()
	doc := &report.Doc{Title: "Benchmark suite"}
	failed := 0
	for _, p := range parts() {
		if !cfg.runs(p.id) {
			continue
		}
		s := &report.Section{ID: p.id, Title: p.title, Goal: p.goal}
		t0 := time.Now()
		fmt.Fprintf(log, "suite: %s %s ...\n", p.id, p.title)
		s.Err = r.runPart(ctx, p, s)
		if s.Err != nil {
			failed++
			fmt.Fprintf(log, "suite: %s failed after %v: %v\n", p.id, time.Since(t0).Round(time.Second), s.Err)
		} else {
			fmt.Fprintf(log, "suite: %s done in %v\n", p.id, time.Since(t0).Round(time.Second))
		}
		s.Notes = append(s.Notes, fmt.Sprintf("_%s took %v._", p.id, time.Since(t0).Round(time.Second)))
		doc.Sections = append(doc.Sections, s)
	}
	doc.Intro = r.intro(before, machine(), time.Since(start))
	if err := report.WriteFile(cfg.Markdown, doc); err != nil {
		return doc, err
	}
	fmt.Fprintf(log, "suite: wrote %s\n", cfg.Markdown)
	if cfg.Splice != "" {
		if err := report.Splice(cfg.Splice, doc); err != nil {
			return doc, err
		}
		fmt.Fprintf(log, "suite: updated %s\n", cfg.Splice)
	}
	if failed > 0 {
		return doc, fmt.Errorf("%w: %d of %d", ErrPartsFailed, failed, len(doc.Sections))
	}
	return doc, nil
}

// runPart runs one part within its budget, turning a panic into an error.
func (r *runner) runPart(ctx context.Context, p part, s *report.Section) (err error) {
	budget := p.budget
	if r.cfg.Smoke {
		budget = max(budget/2, time.Minute)
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
		}
	}()
	if err := p.run(r, ctx, s); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w (part budget %v)", err, budget)
		}
		return err
	}
	return nil
}

// binary compiles the tests of pkg once per run.
func (r *runner) binary(ctx context.Context, pkg string) (*gobench.Binary, error) {
	if b, ok := r.bins[pkg]; ok {
		return b, nil
	}
	name := strings.NewReplacer("/", "_", ".", "_").Replace(pkg) + ".test"
	fmt.Fprintf(r.log, "suite: go test -c %s\n", pkg)
	b, err := gobench.Build(ctx, r.cfg.Repo, pkg, filepath.Join(r.tmp, name), runtime.NumCPU())
	if err != nil {
		return nil, err
	}
	r.bins[pkg] = b
	return b, nil
}

// plotPath returns the path of a plot file in the output directory.
func (r *runner) plotPath(name string) string { return filepath.Join(r.cfg.OutDir, name+".png") }

// suiteCommand is the command that reproduces one part.
func (r *runner) suiteCommand(part string) string {
	cmd := "go run ./bench/cmd/suite -only " + part
	if r.cfg.Smoke {
		cmd += " -smoke"
	}
	return cmd
}

func (r *runner) intro(before, after machineInfo, took time.Duration) []string {
	mode := "full run"
	if r.cfg.Smoke {
		mode = "**smoke run: one round of everything with tiny counts; the figures mean nothing**"
	}
	return []string{
		"<!-- Generated by the benchmark suite (bench/cmd/suite); do not edit by hand: run `make bench`. -->",
		fmt.Sprintf("Generated %s by `%s` (%s) in %v.", time.Now().UTC().Format("2006-01-02 15:04 MST"), r.cfg.Command, mode, took.Round(time.Second)),
		fmt.Sprintf("Machine: %s; load average %s at the start, %s at the end.", before.describe(), before.load, after.load),
		"Method: the machine is shared and noisy, so no figure here is an absolute time compared across runs. " +
			"Each figure is a ratio against its baseline, or a distribution next to its baseline's, measured in the same run: " +
			"Lifeline and the baseline take turns (A, B, then B, A, …) over several rounds, and each ratio is given as the median " +
			"of the per-round ratios with their range. Latency distributions are drawn as cumulative distributions, " +
			"where a curve that stops short of 1 has trials the server never noticed within the trial's cap.",
	}
}
