package plot

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCDF(t *testing.T) {
	tests := []struct {
		name    string
		chart   Chart
		wantErr error
	}{
		{"log", Chart{Title: "t", XLabel: "µs", LogX: true, Curves: []Curve{
			{Name: "a", Values: []float64{1, 2, 3, 100, 0}},
			{Name: "b", Values: []float64{5, math.Inf(1)}},
		}}, nil},
		{"linear", Chart{Title: "t", Curves: []Curve{{Name: "a", Values: []float64{3, 1, 2}}}}, nil},
		{"nothing observed", Chart{Title: "t", Curves: []Curve{{Name: "a", Values: []float64{math.Inf(1)}}}}, ErrNoData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.png")
			err := CDF(path, tt.chart)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("CDF = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte("\x89PNG")) {
				t.Errorf("%s is not a PNG", path)
			}
		})
	}
}

func TestSteps(t *testing.T) {
	pts := steps([]float64{2, 1, math.Inf(1), 0}, true, 0.5)
	// Three finite values out of four trials: the staircase ends at 3/4.
	if len(pts) != 6 {
		t.Fatalf("got %d points, want 6", len(pts))
	}
	if pts[0].X != 0.5 || pts[0].Y != 0 {
		t.Errorf("first point %v, want the zero raised to the floor 0.5 at 0", pts[0])
	}
	if last := pts[len(pts)-1]; last.X != 2 || last.Y != 0.75 {
		t.Errorf("last point %v, want (2, 0.75)", last)
	}
}

func TestMissed(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		values []float64
		want   string
	}{
		{[]float64{1, 2}, ""},
		{[]float64{inf}, " (never observed in 1 of 1 trial)"},
		{[]float64{1, inf, inf}, " (never observed in 2 of 3 trials)"},
	}
	for _, tt := range tests {
		if got := missed(tt.values); got != tt.want {
			t.Errorf("missed(%v) = %q, want %q", tt.values, got, tt.want)
		}
	}
}

func TestLogTicks(t *testing.T) {
	var labels []string
	for _, tk := range (logTicks{}).Ticks(15, 600) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if got, want := strings.Join(labels, " "), "20 50 100 200 500"; got != want {
		t.Errorf("labels %q, want %q", got, want)
	}
	if ticks := (logTicks{}).Ticks(0, 10); ticks != nil {
		t.Errorf("Ticks(0, 10) = %v, want none", ticks)
	}
}
