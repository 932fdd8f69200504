package status_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/status"
)

// TestFeed: fed by the pool's ended-run hook, the metrics and the record
// log see every run, although the ring of recent runs holds one record and
// 100 runs end between two scrapes; polling the ring misses most of them.
func TestFeed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const runs = 100
		feed := status.NewFeed()
		pool, err := lifeline.NewPool(lifeline.WithRecentRuns(1), lifeline.WithRunEnded(feed.RunEnded),
			lifeline.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Shutdown(context.Background())
		fed, err := status.NewMetrics(pool, status.WithFeed(feed))
		if err != nil {
			t.Fatal(err)
		}
		polled, err := status.NewMetrics(pool)
		if err != nil {
			t.Fatal(err)
		}
		var logs syncBuffer
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			done <- status.LogRecords(ctx, pool, textLogger(&logs, slog.LevelInfo), slog.LevelInfo, 0, status.WithFeed(feed))
		}()
		synctest.Wait() // LogRecords has subscribed
		scrape(t, fed)
		scrape(t, polled)

		ok := pool.Middleware(lifeline.WithRoute("ok"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn, _ := lifeline.FromContext(r.Context())
			time.Sleep(time.Millisecond)
			_ = rn.Finish()
		}))
		for range runs {
			get(ok, "/ok")
		}
		synctest.Wait() // every run has ended

		f := scrape(t, fed)
		tests := []struct {
			name   string
			series string
			want   float64
		}{
			{"durations observed", "lifeline_run_duration_seconds", runs},
			{"times to Finish observed", "lifeline_run_finish_seconds", runs},
			{"missed", "lifeline_status_records_missed_total", 0},
		}
		for _, tt := range tests {
			labels := []string{"route", "ok"}
			if tt.name == "missed" {
				labels = nil
			}
			if got := value(f, tt.series, labels...); got != tt.want {
				t.Errorf("fed: %s: %s = %v, want %v", tt.name, tt.series, got, tt.want)
			}
		}
		p := scrape(t, polled)
		if got := value(p, "lifeline_run_duration_seconds", "route", "ok"); got >= runs {
			t.Errorf("polled: %v durations observed through a ring of 1, want fewer than %d (the test shows nothing)", got, runs)
		}
		if got := value(p, "lifeline_status_records_missed_total"); got <= 0 {
			t.Errorf("polled: missed = %v, want > 0", got)
		}

		cancel()
		if err := <-done; err != nil {
			t.Errorf("LogRecords = %v", err)
		}
		if n := ended(logs.lines()); n != runs {
			t.Errorf("LogRecords with a Feed logged %d runs, want %d", n, runs)
		}
		get(ok, "/ok") // after LogRecords returned: not logged
		synctest.Wait()
		if n := ended(logs.lines()); n != 0 {
			t.Errorf("LogRecords logged %d runs after it returned, want 0", n)
		}
	})
}

// ended counts the "run ended" lines.
func ended(lines []string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, `msg="lifeline: run ended"`) {
			n++
		}
	}
	return n
}

func TestWithFeedNil(t *testing.T) {
	pool := newPool(t)
	if _, err := status.NewMetrics(pool, status.WithFeed(nil)); err == nil {
		t.Error("NewMetrics(WithFeed(nil)) = nil error")
	}
}
