package memstore_test

import (
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/handoff"
	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/memstore"
)

// BenchmarkHandoff measures the lock hand-off after a release: the holder
// unlocks, the blocked waiter acquires. The baseline is a goroutine woken
// by closing a channel, measured the same way in the same run.
func BenchmarkHandoff(b *testing.B) {
	s, err := memstore.New()
	if err != nil {
		b.Fatal(err)
	}
	base := handoff.Channel(b.N)
	b.ResetTimer()
	lat := handoff.Store(b, s, s, b.N)
	handoff.ReportLatency(b, "handoff-", lat)
	handoff.ReportLatency(b, "chan-", base)
	b.ReportMetric(ratio(lat, base), "p50-ratio")
}

// BenchmarkWriteCloseHandoff measures the same through Managers: WriteClose
// (save + unlock) in one request until Start (lock + load) returns in the
// waiting one.
func BenchmarkWriteCloseHandoff(b *testing.B) {
	s, err := memstore.New()
	if err != nil {
		b.Fatal(err)
	}
	m, err := session.New(s)
	if err != nil {
		b.Fatal(err)
	}
	base := handoff.Channel(b.N)
	b.ResetTimer()
	lat := handoff.WriteClose(b, m, m, b.N)
	handoff.ReportLatency(b, "handoff-", lat)
	handoff.ReportLatency(b, "chan-", base)
	b.ReportMetric(ratio(lat, base), "p50-ratio")
}

func ratio(d, base []time.Duration) float64 {
	return float64(handoff.Percentile(d, 50)) / float64(max(1, handoff.Percentile(base, 50)))
}
