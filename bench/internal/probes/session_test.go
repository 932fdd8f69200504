package probes

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-go/lifeline/bench/internal/stats"
	"github.com/lifeline-go/lifeline/internal/handoff"
	"github.com/lifeline-go/lifeline/internal/redistest"
	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/memstore"
	"github.com/lifeline-go/lifeline/session/redisstore"
)

// BenchmarkSessionHandoff measures P8: the time from a request's
// WriteClose (save and unlock) until the next request of the same session,
// blocked in Start, has it (lock and load), with the memory store and with
// Redis between two Managers (two machines). Baselines, in alternating
// rounds of the same run: a goroutine woken through a channel (memory),
// a PING round trip to the same redis-server (Redis). Series: memory/handoff,
// memory/channel, redis/handoff, redis/ping.
func BenchmarkSessionHandoff(b *testing.B) {
	n, rounds := *handoffsFlag, *roundsFlag
	mem, err := memstore.New()
	if err != nil {
		b.Fatal(err)
	}
	mm, err := session.New(mem)
	if err != nil {
		b.Fatal(err)
	}
	srv := redistest.Start(b)
	var rm [2]*session.Manager
	for i := range rm {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), DialTimeout: time.Second})
		b.Cleanup(func() { _ = c.Close() })
		st, err := redisstore.New(c, redisstore.WithPrefix("probes:"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = st.Close() })
		if rm[i], err = session.New(st); err != nil {
			b.Fatal(err)
		}
	}
	ping := redis.NewClient(&redis.Options{Addr: srv.Addr(), DialTimeout: time.Second})
	b.Cleanup(func() { _ = ping.Close() })

	series := map[string]*stats.Series{}
	for _, name := range []string{"memory/handoff", "memory/channel", "redis/handoff", "redis/ping"} {
		series[name] = &stats.Series{Name: name}
	}
	add := func(name string, ds []time.Duration) {
		for _, d := range ds {
			series[name].Add(d)
		}
	}
	measure := map[string]func() []time.Duration{
		"memory/handoff": func() []time.Duration { return handoff.WriteClose(b, mm, mm, n) },
		"memory/channel": func() []time.Duration { return handoff.Channel(n) },
		"redis/handoff":  func() []time.Duration { return handoff.WriteClose(b, rm[0], rm[1], n) },
		"redis/ping":     func() []time.Duration { return pings(b, ping, n) },
	}
	pairs := [][2]string{{"memory/handoff", "memory/channel"}, {"redis/handoff", "redis/ping"}}
	for b.Loop() {
		for r := range rounds {
			for _, p := range pairs {
				first, second := p[0], p[1]
				if r%2 == 1 {
					first, second = second, first
				}
				add(first, measure[first]())
				add(second, measure[second]())
			}
		}
	}
	var out []stats.Series
	for _, p := range pairs {
		for _, name := range p {
			report(b, series[name])
			out = append(out, *series[name])
		}
	}
	save(b, out...)
}

// pings measures n PING round trips.
func pings(b *testing.B, c *redis.Client, n int) []time.Duration {
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
