package status_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/status"
)

// TestConcurrentUse backs the doc claims that a Handler and a Metrics are
// safe for concurrent use: pages, JSON and scrapes run while runs start and
// end (under -race), and every ended run is observed exactly once by the
// histograms when the ring is large enough.
func TestConcurrentUse(t *testing.T) {
	const workers, runsEach = 4, 25
	pool := newPool(t, lifeline.WithRecentRuns(workers*runsEach+1))
	var calls atomic.Int64 // a section's function, called by concurrent requests
	st, err := status.New(pool, status.WithSection("calls", func(context.Context) ([]status.Field, error) {
		return []status.Field{{Name: "n", Value: strconv.FormatInt(calls.Add(1), 10)}}, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	m := st.Metrics()
	scrape(t, m) // the first scrape sees an empty ring
	h := pool.Middleware(lifeline.WithRoute("work"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		rn.Annotate("step", r.URL.Path)
		_, _ = w.Write([]byte("ok"))
		_ = rn.Finish()
	}))

	var runs, readers sync.WaitGroup
	stop := make(chan struct{})
	for range workers {
		runs.Go(func() {
			for range runsEach {
				get(h, "/work")
			}
		})
	}
	for _, target := range []string{"/status", "/status?json&full", "/status?json"} {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if w := get(st, target); w.Code != 200 {
					t.Errorf("GET %s: %d", target, w.Code)
					return
				}
			}
		})
	}
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if w := get(m, "/metrics"); w.Code != 200 {
					t.Errorf("GET /metrics: %d", w.Code)
					return
				}
			}
		})
	}
	runs.Wait()
	drain(t, pool)
	close(stop)
	readers.Wait()

	fams := scrape(t, m)
	const total = workers * runsEach
	if got := value(fams, "lifeline_run_duration_seconds", "route", "work"); got != total {
		t.Errorf("run_duration_seconds count = %v, want %d (each run once)", got, total)
	}
	if got := value(fams, "lifeline_run_finish_seconds", "route", "work"); got != total {
		t.Errorf("run_finish_seconds count = %v, want %d", got, total)
	}
	if got := value(fams, "lifeline_status_records_missed_total"); got != 0 {
		t.Errorf("status_records_missed_total = %v, want 0", got)
	}
}
