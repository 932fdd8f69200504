package report

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/stats"
)

// Micros formats a latency given in microseconds with a unit that suits
// it: "23 µs", "1.4 ms", "4.98 s".
func Micros(us float64) string {
	switch {
	case math.IsNaN(us) || math.IsInf(us, 0):
		return "—"
	case us < 10:
		return fmt.Sprintf("%.1f µs", us)
	case us < 1000:
		return fmt.Sprintf("%.0f µs", us)
	case us < 10_000:
		return fmt.Sprintf("%.2f ms", us/1e3)
	case us < 100_000:
		return fmt.Sprintf("%.1f ms", us/1e3)
	case us < 1_000_000:
		return fmt.Sprintf("%.0f ms", us/1e3)
	}
	return fmt.Sprintf("%.2f s", us/1e6)
}

// Duration formats d like [Micros].
func Duration(d time.Duration) string { return Micros(float64(d) / float64(time.Microsecond)) }

// Spread formats the median of per-round figures with their range and
// count, as "0.93 (0.90–0.95, 5 rounds)", each formatted by f.
func Spread(xs []float64, f func(float64) string) string {
	s := stats.Summarize(xs)
	if s.N == 0 {
		return "—"
	}
	if s.N == 1 {
		return f(s.P50) + " (1 round)"
	}
	return fmt.Sprintf("%s (%s–%s, %d rounds)", f(s.P50), f(s.Min), f(s.Max), s.N)
}

// Plural returns "1 round", "3 rounds".
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "s") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Fixed returns a formatter with the given number of decimals and suffix.
func Fixed(decimals int, suffix string) func(float64) string {
	return func(x float64) string { return fmt.Sprintf("%.*f%s", decimals, x, suffix) }
}

// Percent formats a fraction as a percentage.
func Percent(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }

// Observed formats how many of a series' trials were observed within its
// cap, for series that can miss: "5/5", or "0/3 (none within 12 s)".
func Observed(s *stats.Series) string {
	if s.Missed == 0 {
		return fmt.Sprintf("%d/%d", len(s.Samples), s.Trials())
	}
	return fmt.Sprintf("%d/%d (%d not within %s)", len(s.Samples), s.Trials(), s.Missed, Duration(s.Cap))
}
