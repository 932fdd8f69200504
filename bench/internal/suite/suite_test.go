package suite

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/report"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{Repo: ".", OutDir: "o", Markdown: "m", Executable: "e", Timeout: time.Minute}
	tests := []struct {
		name   string
		change func(*Config)
		valid  bool
	}{
		{"complete", func(*Config) {}, true},
		{"parts any case", func(c *Config) { c.Only = []string{"p1", "P8"} }, true},
		{"no repo", func(c *Config) { c.Repo = "" }, false},
		{"no executable", func(c *Config) { c.Executable = "" }, false},
		{"no timeout", func(c *Config) { c.Timeout = 0 }, false},
		{"unknown part", func(c *Config) { c.Only = []string{"P9"} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.change(&c)
			err := c.validate()
			if (err == nil) != tt.valid {
				t.Fatalf("validate = %v, want valid %v", err, tt.valid)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Errorf("validate = %v, want ErrConfig", err)
			}
		})
	}
}

func TestRuns(t *testing.T) {
	c := Config{Only: []string{"p2", "P4"}}
	for part, want := range map[string]bool{"P1": false, "P2": true, "P4": true} {
		if got := c.runs(part); got != want {
			t.Errorf("runs(%s) = %v, want %v", part, got, want)
		}
	}
	if !(&Config{}).runs("P7") {
		t.Error("an empty Only must run every part")
	}
}

func TestSizes(t *testing.T) {
	full, smoke := fullSizes(), smokeSizes()
	if full.p6Runs != 100_000 || full.p4Requests != 1000 {
		t.Errorf("full run: %d runs in flight, %d early-finished requests; the issue asks for 100,000 and 1,000", full.p6Runs, full.p4Requests)
	}
	if smoke.p1Rounds != 1 || smoke.p5Rounds != 1 || smoke.p6Rounds != 1 || smoke.p7Rounds != 1 || smoke.p8Rounds != 1 {
		t.Errorf("smoke run: want one round of everything: %+v", smoke)
	}
	if len(parts()) != len(Parts) {
		t.Errorf("%d parts, %d names", len(parts()), len(Parts))
	}
	var budget time.Duration
	for _, p := range parts() {
		budget += p.budget
	}
	t.Logf("sum of part budgets: %v", budget)
}

func TestJoinArgs(t *testing.T) {
	got := joinArgs([]string{"-bench", "^BenchmarkX$", "-d", "3s", "a b", "it's"})
	want := `-bench '^BenchmarkX$' -d 3s 'a b' 'it'\''s'`
	if got != want {
		t.Errorf("joinArgs = %s, want %s", got, want)
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 5}
	io.WriteString(b, "hello ")
	io.WriteString(b, "world")
	if got := b.String(); got != "world" {
		t.Errorf("tail = %q, want world", got)
	}
}

// TestRunInProcessParts runs the parts that need neither child processes
// nor external tools, with smoke sizes, and checks the report.
func TestRunInProcessParts(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{
		Repo: ".", OutDir: dir, Markdown: filepath.Join(dir, "suite.md"), Smoke: true,
		Only: []string{"P2", "P4"}, Timeout: 2 * time.Minute, Executable: os.Args[0], Command: "test",
	}
	doc, err := Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Sections) != 2 {
		t.Fatalf("%d sections, want 2", len(doc.Sections))
	}
	for _, s := range doc.Sections {
		if s.Err != nil || len(s.Verdicts) == 0 || len(s.Plots) == 0 {
			t.Errorf("%s: err %v, %d verdicts, %d plots", s.ID, s.Err, len(s.Verdicts), len(s.Plots))
		}
		for _, v := range s.Verdicts {
			if v.Outcome == report.Unknown {
				t.Errorf("%s %s: outcome unknown", s.ID, v.Measurement)
			}
		}
		for _, p := range s.Plots {
			if _, err := os.Stat(p.Path); err != nil {
				t.Errorf("%s: plot %s: %v", s.ID, p.Path, err)
			}
		}
	}
	md, err := os.ReadFile(cfg.Markdown)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### P2 ", "### P4 ", "smoke run", "![P2 fin](p2-fin.png)"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestRunReportsFailures(t *testing.T) {
	dir := t.TempDir()
	// P1 starts servers from Executable; a missing one makes the part fail,
	// and the report is written all the same.
	cfg := Config{Repo: ".", OutDir: dir, Markdown: filepath.Join(dir, "suite.md"), Smoke: true,
		Only: []string{"P1"}, Timeout: time.Minute, Executable: filepath.Join(dir, "missing"), Command: "test"}
	doc, err := Run(context.Background(), cfg, io.Discard)
	if !errors.Is(err, ErrPartsFailed) {
		t.Fatalf("Run = %v, want ErrPartsFailed", err)
	}
	if doc.Sections[0].Err == nil {
		t.Error("P1 has no error")
	}
	md, _ := os.ReadFile(cfg.Markdown)
	if !strings.Contains(string(md), "**Not measured:**") {
		t.Errorf("report does not say P1 was not measured:\n%s", md)
	}
}
