package stats_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/stats"
)

func ExampleSummarize() {
	s := stats.Summarize([]float64{10, 20, 30, 40, 50})
	fmt.Println(s.N, s.Min, s.P50, s.Max, s.Mean)
	// Output: 5 10 30 50 30
}

func ExampleQuantile() {
	fmt.Println(stats.Quantile([]float64{1, 2, 3, 4, 5}, 0.25))
	// Output: 2
}

func ExampleMedian() {
	fmt.Println(stats.Median([]float64{3, 1, 2, 10}))
	// Output: 2.5
}

func ExampleMicros() {
	fmt.Println(stats.Micros([]time.Duration{250 * time.Microsecond, -1}))
	// Output: [250 +Inf]
}

func ExampleRatios() {
	lifeline := []float64{95, 98, 97}
	bare := []float64{100, 100, 100}
	fmt.Println(stats.Median(stats.Ratios(lifeline, bare)))
	// Output: 0.97
}

func ExampleSeries_Add() {
	s := stats.Series{Name: "fin", Cap: time.Second}
	s.Add(20 * time.Microsecond)
	s.Add(-1) // not observed within the cap
	fmt.Println(len(s.Samples), s.Missed, s.Trials())
	// Output: 1 1 2
}

func ExampleSeries_Summary() {
	s := stats.Series{Samples: []time.Duration{10 * time.Microsecond, 30 * time.Microsecond}}
	fmt.Println(s.Summary().P50)
	// Output: 20
}

func ExampleSeries_Micros() {
	s := stats.Series{Samples: []time.Duration{5 * time.Microsecond}, Missed: 1}
	fmt.Println(s.Micros())
	// Output: [5 +Inf]
}

func ExampleSeries_Trials() {
	s := stats.Series{Samples: []time.Duration{1, 2}, Missed: 3}
	fmt.Println(s.Trials())
	// Output: 5
}

func ExampleWriteSeries() {
	dir, _ := os.MkdirTemp("", "stats")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "p2.json")
	_ = stats.WriteSeries(path, []stats.Series{{Name: "lifeline/fin", Samples: []time.Duration{time.Microsecond}}})
	got, _ := stats.ReadSeries(path)
	fmt.Println(got[0].Name, got[0].Samples)
	// Output: lifeline/fin [1µs]
}

func ExampleReadSeries() {
	dir, _ := os.MkdirTemp("", "stats")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "p8.json")
	_ = stats.WriteSeries(path, []stats.Series{{Name: "memory/handoff", Missed: 0}})
	got, err := stats.ReadSeries(path)
	fmt.Println(len(got), err)
	// Output: 1 <nil>
}

func ExampleFind() {
	all := []stats.Series{{Name: "a"}, {Name: "b", Missed: 2}}
	s, err := stats.Find(all, "b")
	fmt.Println(s.Missed, err)
	_, err = stats.Find(all, "c")
	fmt.Println(err)
	// Output:
	// 2 <nil>
	// stats: no such series: "c"
}
