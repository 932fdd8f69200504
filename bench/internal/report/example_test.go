package report_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/report"
	"github.com/lifeline-go/lifeline/bench/internal/stats"
)

func ExampleRender() {
	doc := &report.Doc{
		Title: "Benchmark suite",
		Sections: []*report.Section{{
			ID: "P6", Title: "Scale", Goal: "≤ 20 KB per run",
			Verdicts: []report.Verdict{{Measurement: "RSS per run", Figure: "7.7 KB", Goal: "≤ 20 KB",
				Outcome: report.AtMost(7.7, 20), Command: "go run ./bench/cmd/suite -only P6"}},
		}},
	}
	_ = report.Render(os.Stdout, doc, ".")
	// Output:
	// ## Benchmark suite
	//
	// ### Summary
	//
	// | part | measurement | figure | goal | result | command |
	// | --- | --- | --- | --- | --- | --- |
	// | [P6](#p6-scale) | RSS per run | 7.7 KB | ≤ 20 KB | **met** | `go run ./bench/cmd/suite -only P6` |
	//
	// ### P6 Scale
	//
	// Goal: ≤ 20 KB per run
	//
}

func ExampleWriteFile() {
	dir, _ := os.MkdirTemp("", "report")
	defer os.RemoveAll(dir)
	doc := &report.Doc{Title: "Benchmark suite", Sections: []*report.Section{{ID: "P1", Title: "Throughput",
		Plots: []report.Plot{{Title: "cdf", Path: filepath.Join(dir, "bench", "p1.png")}}}}}
	err := report.WriteFile(filepath.Join(dir, "suite.md"), doc)
	fmt.Println(err)
	// Output: <nil>
}

func ExampleSplice() {
	dir, _ := os.MkdirTemp("", "report")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "BENCHMARKS.md")
	_ = os.WriteFile(path, []byte("# Benchmarks\n"+report.BeginMarker+"\n"+report.EndMarker+"\n"), 0o644)
	err := report.Splice(path, &report.Doc{Title: "Benchmark suite"})
	fmt.Println(err)
	// Output: <nil>
}

func ExampleAtLeast() {
	fmt.Println(report.AtLeast(0.98, 0.97), report.AtLeast(0.9, 0.97))
	// Output: **met** **not met**
}

func ExampleAtMost() {
	fmt.Println(report.AtMost(850, 1000))
	// Output: **met**
}

func ExampleAll() {
	fmt.Println(report.All(report.Met, report.NotMet), report.All(report.Met, report.Unknown))
	// Output: **not met** not measured
}

func ExampleMicros() {
	fmt.Println(report.Micros(23), report.Micros(1450), report.Micros(4.98e6))
	// Output: 23 µs 1.45 ms 4.98 s
}

func ExampleDuration() {
	fmt.Println(report.Duration(250 * time.Millisecond))
	// Output: 250 ms
}

func ExampleSpread() {
	fmt.Println(report.Spread([]float64{0.95, 0.99, 0.97}, report.Fixed(2, "")))
	// Output: 0.97 (0.95–0.99, 3 rounds)
}

func ExampleFixed() {
	fmt.Println(report.Fixed(1, "×")(812.345))
	// Output: 812.3×
}

func ExamplePercent() {
	fmt.Println(report.Percent(1))
	// Output: 100.0%
}

func ExamplePlural() {
	fmt.Println(report.Plural(1, "trial"), report.Plural(2, "trial"))
	// Output: 1 trial 2 trials
}

func ExampleObserved() {
	s := &stats.Series{Samples: []time.Duration{time.Millisecond}, Missed: 2, Cap: time.Second}
	fmt.Println(report.Observed(s))
	// Output: 1/3 (2 not within 1.00 s)
}

func ExampleOutcome_String() {
	fmt.Println(report.Info)
	// Output: (no goal)
}
