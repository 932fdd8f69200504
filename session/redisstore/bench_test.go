package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/handoff"
	"github.com/lifeline-go/lifeline/internal/redistest"
	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/redisstore"
)

// BenchmarkHandoff measures the lock hand-off between two machines on one
// real Redis (two clients, two stores): the holder's Unlock (compare-and-
// delete + PUBLISH) until the waiter's Lock returns. Waiters are woken by
// Pub/Sub (default) or poll. The baseline is a PING round trip on the same
// server in the same run.
func BenchmarkHandoff(b *testing.B) {
	srv := redistest.Start(b)
	modes := []struct {
		name string
		opts []redisstore.Option
	}{
		{"pubsub", nil},
		{"poll-1ms", []redisstore.Option{redisstore.WithNotify(false), redisstore.WithPollInterval(time.Millisecond)}},
		{"poll-5ms", []redisstore.Option{redisstore.WithNotify(false), redisstore.WithPollInterval(5 * time.Millisecond)}},
	}
	for _, mode := range modes {
		b.Run(mode.name, func(b *testing.B) {
			opts := append([]redisstore.Option{redisstore.WithPrefix("bench:")}, mode.opts...)
			holder := newStore(b, newClient(b, srv), opts...)
			waiter := newStore(b, newClient(b, srv), opts...)
			base := pings(b, srv, b.N)
			b.ResetTimer()
			lat := handoff.Store(b, holder, waiter, b.N)
			report(b, lat, base)
		})
	}
}

// BenchmarkWriteCloseHandoff measures the hand-off of a session between two
// machines through Managers: WriteClose (save + unlock) until the waiting
// Start (lock + load) returns.
func BenchmarkWriteCloseHandoff(b *testing.B) {
	srv := redistest.Start(b)
	var ms [2]*session.Manager
	for i := range ms {
		m, err := session.New(newStore(b, newClient(b, srv), redisstore.WithPrefix("bench:")))
		if err != nil {
			b.Fatal(err)
		}
		ms[i] = m
	}
	base := pings(b, srv, b.N)
	b.ResetTimer()
	lat := handoff.WriteClose(b, ms[0], ms[1], b.N)
	report(b, lat, base)
}

func report(b *testing.B, lat, base []time.Duration) {
	handoff.ReportLatency(b, "handoff-", lat)
	handoff.ReportLatency(b, "ping-", base)
	b.ReportMetric(float64(handoff.Percentile(lat, 50))/float64(max(1, handoff.Percentile(base, 50))), "p50/ping")
}

// pings measures n PING round trips.
func pings(b *testing.B, srv *redistest.Server, n int) []time.Duration {
	c := newClient(b, srv)
	ctx := context.Background()
	out := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		if err := c.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		out = append(out, time.Since(t0))
	}
	return out
}
