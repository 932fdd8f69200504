package stats

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"time"
)

// ErrNoSeries is returned by [Find] for a name that is not in the list.
var ErrNoSeries = errors.New("stats: no such series")

// Series is one named set of latency samples, as a measuring process hands
// them to the suite. A sample that was never observed within the
// measurement's cap (a disconnect nobody noticed) is counted in Missed, not
// stored.
type Series struct {
	// Name identifies the series, such as "lifeline-fin" or "nethttp-fin".
	Name string `json:"name"`
	// Samples are the observed latencies, in nanoseconds.
	Samples []time.Duration `json:"samples_ns"`
	// Missed counts the trials not observed within Cap.
	Missed int `json:"missed"`
	// Cap is how long each trial waited before counting as missed.
	Cap time.Duration `json:"cap_ns"`
}

// Add appends one trial's outcome: a latency, or a miss when d < 0.
func (s *Series) Add(d time.Duration) {
	if d < 0 {
		s.Missed++
		return
	}
	s.Samples = append(s.Samples, d)
}

// Trials returns the number of trials, observed or missed.
func (s *Series) Trials() int { return len(s.Samples) + s.Missed }

// Micros returns every trial in microseconds, misses as +Inf, for
// [Summarize] (which ignores them) and for plots (which draw a distribution
// that stops short of 1 when some trials were missed).
func (s *Series) Micros() []float64 {
	out := Micros(s.Samples)
	for range s.Missed {
		out = append(out, math.Inf(1))
	}
	return out
}

// Summary returns the Summary of the observed samples, in microseconds.
func (s *Series) Summary() Summary { return Summarize(Micros(s.Samples)) }

// WriteSeries writes series to the file at path as JSON.
func WriteSeries(path string, series []Series) error {
	b, err := json.Marshal(series)
	if err != nil {
		return fmt.Errorf("stats: encode series: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("stats: write series: %w", err)
	}
	return nil
}

// ReadSeries reads the series [WriteSeries] wrote to path.
func ReadSeries(path string) ([]Series, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("stats: read series: %w", err)
	}
	var out []Series
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("stats: decode series %s: %w", path, err)
	}
	return out, nil
}

// Find returns the series called name, or an error matching [ErrNoSeries].
func Find(series []Series, name string) (*Series, error) {
	for i := range series {
		if series[i].Name == name {
			return &series[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrNoSeries, name)
}
