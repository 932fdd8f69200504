// Package handoff measures how fast a session lock passes from one holder
// to the next, for the benchmarks of the session stores and of bench/: the
// store's Lock and Unlock, a Manager's WriteClose and Start, and the
// baseline of a goroutine woken from a channel.
package handoff

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/sessiontest"
)

// settle is how long a hand-off measurement lets the waiter block before
// the holder releases. It only has to be long enough for the waiter to be
// waiting; it is not part of the measured latency.
const settle = time.Millisecond

// Store measures n lock hand-offs on one id: holder takes the lock, a
// goroutine starts waiting for it on waiter (which may be the same store,
// or another store on the same backend, as another machine), and the
// latency runs from just before holder's Unlock until the waiter's Lock
// returns. It returns the n latencies, for benchmarks to report.
func Store(tb testing.TB, holder, waiter session.Store, n int) []time.Duration {
	tb.Helper()
	ctx := context.Background()
	id := sessiontest.ID(tb)
	lat := make([]time.Duration, 0, n)
	type grant struct {
		at  time.Time
		tok session.LockToken
		err error
	}
	for range n {
		tok, err := holder.Lock(ctx, id, time.Minute)
		if err != nil {
			tb.Fatalf("holder Lock = %v", err)
		}
		got := make(chan grant, 1)
		go func() {
			tk, err := waiter.Lock(ctx, id, time.Minute)
			got <- grant{time.Now(), tk, err}
		}()
		time.Sleep(settle)
		t0 := time.Now()
		if err := holder.Unlock(ctx, id, tok); err != nil {
			tb.Fatalf("holder Unlock = %v", err)
		}
		g := <-got
		if g.err != nil {
			tb.Fatalf("waiter Lock = %v", g.err)
		}
		lat = append(lat, g.at.Sub(t0))
		if err := waiter.Unlock(ctx, id, g.tok); err != nil {
			tb.Fatalf("waiter Unlock = %v", err)
		}
	}
	return lat
}

// WriteClose measures n hand-offs of one session between two
// requests through Managers: the holder changes the session and calls
// WriteClose (save and unlock) while the waiter is blocked in Start; the
// latency runs from just before WriteClose until the waiter's Start returns
// (with the session loaded).
func WriteClose(tb testing.TB, holder, waiter *session.Manager, n int) []time.Duration {
	tb.Helper()
	cookie := sessiontest.NewSession(tb, holder, func(s *session.Session) error { return s.Set("n", 0) })
	lat := make([]time.Duration, 0, n)
	type started struct {
		at  time.Time
		s   *session.Session
		err error
	}
	request := func() *http.Request {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(cookie)
		return r
	}
	for i := range n {
		s, err := holder.Start(nopWriter{}, request())
		if err != nil {
			tb.Fatalf("holder Start = %v", err)
		}
		_ = s.Set("n", i)
		got := make(chan started, 1)
		go func() {
			ws, err := waiter.Start(nopWriter{}, request())
			got <- started{time.Now(), ws, err}
		}()
		time.Sleep(settle)
		t0 := time.Now()
		if err := s.WriteClose(context.Background()); err != nil {
			tb.Fatalf("holder WriteClose = %v", err)
		}
		g := <-got
		if g.err != nil {
			tb.Fatalf("waiter Start = %v", g.err)
		}
		lat = append(lat, g.at.Sub(t0))
		if err := g.s.Abort(context.Background()); err != nil {
			tb.Fatalf("waiter Abort = %v", err)
		}
	}
	return lat
}

// Channel measures the baseline for [Store]: n wake-ups of a
// goroutine blocked on a channel receive, timed the same way.
func Channel(n int) []time.Duration {
	lat := make([]time.Duration, 0, n)
	for range n {
		ch := make(chan struct{})
		got := make(chan time.Time, 1)
		go func() {
			<-ch
			got <- time.Now()
		}()
		time.Sleep(settle)
		t0 := time.Now()
		close(ch)
		lat = append(lat, (<-got).Sub(t0))
	}
	return lat
}

// Percentile returns the p-th percentile (0-100) of d, nearest rank.
func Percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// ReportLatency reports the p50, p99 and max of d on b in microseconds,
// with the given metric prefix ("handoff-" gives "handoff-p50-µs").
func ReportLatency(b *testing.B, prefix string, d []time.Duration) {
	b.ReportMetric(float64(Percentile(d, 50).Nanoseconds())/1e3, prefix+"p50-µs")
	b.ReportMetric(float64(Percentile(d, 99).Nanoseconds())/1e3, prefix+"p99-µs")
	b.ReportMetric(float64(Percentile(d, 100).Nanoseconds())/1e3, prefix+"max-µs")
}

// nopWriter is a ResponseWriter that keeps nothing, for benchmarks.
type nopWriter struct{}

func (nopWriter) Header() http.Header         { return http.Header{} }
func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (nopWriter) WriteHeader(int)             {}
