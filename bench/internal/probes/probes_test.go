package probes

import (
	"errors"
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/stats"
)

var (
	outFlag      = flag.String("probes.out", "", "file the benchmarks write their samples to")
	trialsFlag   = flag.Int("probes.trials", 3, "silent-peer trials per setup")
	capFlag      = flag.Duration("probes.cap", 12*time.Second, "how long a silent-peer trial waits for the detection")
	handoffsFlag = flag.Int("probes.handoffs", 500, "session hand-offs per store and round")
	roundsFlag   = flag.Int("probes.rounds", 4, "alternating rounds of session hand-offs and baseline")
)

// output collects the series of every benchmark of the run and rewrites
// the -probes.out file after each, so that both benchmarks in one run end
// up in it.
var output []stats.Series

// save adds series to the output file, replacing series of the same name.
func save(tb testing.TB, series ...stats.Series) {
	tb.Helper()
	for _, s := range series {
		replaced := false
		for i := range output {
			if output[i].Name == s.Name {
				output[i], replaced = s, true
			}
		}
		if !replaced {
			output = append(output, s)
		}
	}
	if *outFlag == "" {
		return
	}
	if err := stats.WriteSeries(*outFlag, output); err != nil {
		tb.Fatal(err)
	}
}

// report prints a series' median and tail as benchmark metrics.
func report(b *testing.B, s *stats.Series) {
	if sum := s.Summary(); sum.N > 0 {
		b.ReportMetric(sum.P50, s.Name+"-p50-µs")
		b.ReportMetric(sum.P99, s.Name+"-p99-µs")
	}
	if s.Missed > 0 {
		b.ReportMetric(float64(s.Missed), s.Name+"-missed")
	}
}

func TestSave(t *testing.T) {
	old, oldOut := output, *outFlag
	t.Cleanup(func() { output, *outFlag = old, oldOut })
	output = nil
	*outFlag = filepath.Join(t.TempDir(), "out.json")
	save(t, stats.Series{Name: "a", Samples: []time.Duration{1}})
	save(t, stats.Series{Name: "b", Missed: 2}, stats.Series{Name: "a", Samples: []time.Duration{2, 3}})
	got, err := stats.ReadSeries(*outFlag)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "a" || len(got[0].Samples) != 2 || got[1].Missed != 2 {
		t.Errorf("file holds %+v, want a (2 samples) then b (2 missed)", got)
	}
}

// errNotReached is a trial whose request never reached its handler.
var errNotReached = errors.New("probes: the request did not reach the handler within 10s")
