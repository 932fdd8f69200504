package report

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/stats"
)

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name string
		got  Outcome
		want Outcome
	}{
		{"at least met", AtLeast(0.97, 0.97), Met},
		{"at least not met", AtLeast(0.96, 0.97), NotMet},
		{"at most met", AtMost(1000, 1000), Met},
		{"at most not met", AtMost(1001, 1000), NotMet},
		{"all met", All(Met, Info, Met), Met},
		{"all not met", All(Met, NotMet), NotMet},
		{"all unknown", All(NotMet, Unknown), Unknown},
		{"all of none", All(), Met},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func testDoc(dir string) *Doc {
	return &Doc{
		Title: "Benchmark suite",
		Intro: []string{"intro"},
		Sections: []*Section{
			{
				ID: "P1", Title: "Throughput", Goal: "≥ 0.97",
				Method:   []string{"how"},
				Commands: []string{"wrk -c 50 http://x/"},
				Verdicts: []Verdict{{Measurement: "ratio | h1", Figure: "0.98", Goal: "≥ 0.97", Outcome: Met, Command: "wrk -c 50"}},
				Tables:   []Table{{Caption: "rounds", Header: []string{"a", "b"}, Rows: [][]string{{"1", "2"}}}},
				Plots:    []Plot{{Title: "cdf", Path: filepath.Join(dir, "p1.png")}},
				Notes:    []string{"note"},
			},
			{ID: "P2", Title: "Detection", Goal: "p99 ≤ 1 ms", Err: errors.New("boom")},
		},
	}
}

func TestRender(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	if err := Render(&b, testDoc(dir), dir); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"## Benchmark suite",
		"| [P1](#p1-throughput) | ratio \\| h1 | 0.98 | ≥ 0.97 | **met** | `wrk -c 50` |",
		"| [P2](#p2-detection) | Detection | error: see below | p99 ≤ 1 ms | not measured |  |",
		"### P1 Throughput",
		"```\nwrk -c 50 http://x/\n```",
		"| a | b |\n| --- | --- |\n| 1 | 2 |",
		"![cdf](p1.png)",
		"**Not measured:** boom",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteFileRelativeLinks(t *testing.T) {
	dir := t.TempDir()
	plots := filepath.Join(dir, "docs", "bench")
	if err := os.MkdirAll(plots, 0o755); err != nil {
		t.Fatal(err)
	}
	md := filepath.Join(dir, "docs", "BENCHMARKS-suite.md")
	if err := WriteFile(md, testDoc(plots)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(md)
	if !strings.Contains(string(b), "![cdf](bench/p1.png)") {
		t.Errorf("plot link not relative to the file:\n%s", b)
	}
}

func TestSplice(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "BENCHMARKS.md")
	head, tail := "# Benchmarks\n\nhand-written\n\n", "\n\n## Older figures\n"
	if err := os.WriteFile(path, []byte(head+BeginMarker+"\nold\n"+EndMarker+tail), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 { // splicing twice keeps one copy
		if err := Splice(path, testDoc(dir)); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	out := string(b)
	if !strings.HasPrefix(out, head+BeginMarker+"\n## Benchmark suite") || !strings.HasSuffix(out, EndMarker+tail) {
		t.Errorf("spliced file:\n%s", out)
	}
	if strings.Count(out, "## Benchmark suite") != 1 || strings.Contains(out, "old") {
		t.Errorf("spliced file has stale or doubled content:\n%s", out)
	}
	if err := os.WriteFile(path, []byte("no markers"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Splice(path, testDoc(dir)); !errors.Is(err, ErrMarkers) {
		t.Errorf("Splice without markers = %v, want ErrMarkers", err)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ got, want string }{
		{Micros(2.345), "2.3 µs"},
		{Micros(23.4), "23 µs"},
		{Micros(1234), "1.23 ms"},
		{Micros(12345), "12.3 ms"},
		{Micros(300000), "300 ms"},
		{Micros(4.98e6), "4.98 s"},
		{Micros(math.NaN()), "—"},
		{Duration(1500 * time.Microsecond), "1.50 ms"},
		{Spread([]float64{0.9, 0.95, 0.93}, Fixed(2, "")), "0.93 (0.90–0.95, 3 rounds)"},
		{Spread([]float64{2}, Fixed(0, "×")), "2× (1 round)"},
		{Spread(nil, Fixed(0, "")), "—"},
		{Percent(0.5), "50.0%"},
		{Plural(1, "round"), "1 round"},
		{Plural(3, "miss"), "3 misses"},
		{Observed(&stats.Series{Samples: make([]time.Duration, 5)}), "5/5"},
		{Observed(&stats.Series{Missed: 3, Cap: time.Second}), "0/3 (3 not within 1.00 s)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
