// Package stats summarises the samples and per-round ratios of the
// benchmark suite: quantiles, medians with their spread, and series of
// latency samples kept in files between processes.
package stats

import (
	"math"
	"slices"
	"time"
)

// Summary describes a set of values: their count, extremes, median, mean
// and the quantiles the suite reports. The Summary of no values has N 0 and
// NaN in every other field.
type Summary struct {
	N                       int
	Min, P50, P90, P99, Max float64
	Mean                    float64
}

// Summarize returns the Summary of xs. NaN and infinite values are ignored;
// xs is not modified.
func Summarize(xs []float64) Summary {
	s := finite(xs)
	if len(s) == 0 {
		nan := math.NaN()
		return Summary{Min: nan, P50: nan, P90: nan, P99: nan, Max: nan, Mean: nan}
	}
	slices.Sort(s)
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return Summary{
		N:    len(s),
		Min:  s[0],
		P50:  quantileSorted(s, 0.50),
		P90:  quantileSorted(s, 0.90),
		P99:  quantileSorted(s, 0.99),
		Max:  s[len(s)-1],
		Mean: sum / float64(len(s)),
	}
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of xs by linear
// interpolation between the closest ranks, ignoring NaN and infinite
// values. It returns NaN when there is none.
func Quantile(xs []float64, q float64) float64 {
	s := finite(xs)
	if len(s) == 0 {
		return math.NaN()
	}
	slices.Sort(s)
	return quantileSorted(s, q)
}

// Median returns the median of xs (see [Quantile]).
func Median(xs []float64) float64 { return Quantile(xs, 0.5) }

func quantileSorted(s []float64, q float64) float64 {
	q = min(max(q, 0), 1)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	frac := pos - float64(lo)
	return s[lo] + (s[hi]-s[lo])*frac
}

// finite returns a copy of the finite values of xs.
func finite(xs []float64) []float64 {
	out := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			out = append(out, x)
		}
	}
	return out
}

// Micros converts durations to microseconds. A negative duration, which
// the suite uses for "not observed", becomes +Inf.
func Micros(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		if d < 0 {
			out[i] = math.Inf(1)
			continue
		}
		out[i] = float64(d) / float64(time.Microsecond)
	}
	return out
}

// Ratios returns a[i]/b[i] for each round i of two equally long lists of
// figures measured side by side; rounds where b[i] is zero are skipped.
func Ratios(a, b []float64) []float64 {
	n := min(len(a), len(b))
	out := make([]float64, 0, n)
	for i := range n {
		if b[i] != 0 {
			out = append(out, a[i]/b[i])
		}
	}
	return out
}
