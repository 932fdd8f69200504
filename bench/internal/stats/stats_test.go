package stats

import (
	"errors"
	"math"
	"path/filepath"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		q    float64
		want float64
	}{
		{"median odd", []float64{3, 1, 2}, 0.5, 2},
		{"median even", []float64{4, 1, 3, 2}, 0.5, 2.5},
		{"min", []float64{5, 7, 9}, 0, 5},
		{"max", []float64{5, 7, 9}, 1, 9},
		{"p99 of 101", seq(101), 0.99, 99},
		{"ignores inf and nan", []float64{1, math.Inf(1), math.NaN(), 3}, 0.5, 2},
		{"clamps q", []float64{1, 2}, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Quantile(tt.xs, tt.q); got != tt.want {
				t.Errorf("Quantile(%v, %v) = %v, want %v", tt.xs, tt.q, got, tt.want)
			}
		})
	}
	if got := Quantile(nil, 0.5); !math.IsNaN(got) {
		t.Errorf("Quantile(nil) = %v, want NaN", got)
	}
}

func seq(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(i)
	}
	return out
}

func TestSummarize(t *testing.T) {
	xs := []float64{4, 2, 8, 6}
	s := Summarize(xs)
	if s.N != 4 || s.Min != 2 || s.Max != 8 || s.P50 != 5 || s.Mean != 5 {
		t.Errorf("Summarize(%v) = %+v", xs, s)
	}
	if xs[0] != 4 {
		t.Errorf("Summarize sorted its argument: %v", xs)
	}
	if s := Summarize([]float64{math.Inf(1)}); s.N != 0 || !math.IsNaN(s.P50) {
		t.Errorf("Summarize(+Inf) = %+v, want N 0 and NaN", s)
	}
}

func TestRatios(t *testing.T) {
	got := Ratios([]float64{2, 3, 4}, []float64{1, 0, 2, 9})
	want := []float64{2, 2}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Ratios = %v, want %v", got, want)
	}
}

func TestMicros(t *testing.T) {
	got := Micros([]time.Duration{1500 * time.Nanosecond, -1})
	if got[0] != 1.5 || !math.IsInf(got[1], 1) {
		t.Errorf("Micros = %v, want [1.5 +Inf]", got)
	}
}

func TestSeries(t *testing.T) {
	var s Series
	s.Add(2 * time.Microsecond)
	s.Add(-1)
	s.Add(4 * time.Microsecond)
	if s.Trials() != 3 || s.Missed != 1 {
		t.Errorf("Trials %d, Missed %d, want 3 and 1", s.Trials(), s.Missed)
	}
	if sum := s.Summary(); sum.N != 2 || sum.P50 != 3 {
		t.Errorf("Summary = %+v, want N 2, P50 3", sum)
	}
	if us := s.Micros(); len(us) != 3 || !math.IsInf(us[2], 1) {
		t.Errorf("Micros = %v, want two values and +Inf", us)
	}
}

func TestSeriesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	in := []Series{{Name: "a", Samples: []time.Duration{1, 2}, Missed: 1, Cap: time.Second}}
	if err := WriteSeries(path, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadSeries(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Find(out, "a")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Samples) != 2 || s.Missed != 1 || s.Cap != time.Second {
		t.Errorf("read back %+v, want %+v", s, in[0])
	}
	if _, err := Find(out, "b"); !errors.Is(err, ErrNoSeries) {
		t.Errorf("Find(b) = %v, want ErrNoSeries", err)
	}
	if _, err := ReadSeries(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("ReadSeries of a missing file: nil error")
	}
}
