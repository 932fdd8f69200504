package status_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/status"
)

// benchPool returns a pool with live runs working after Finish and a full
// ring of recent records (256, the default).
func benchPool(b *testing.B, live int) *lifeline.Pool {
	b.Helper()
	pool := newPool(b)
	release := make(chan struct{})
	b.Cleanup(func() { close(release) })
	working := pool.Middleware(lifeline.WithRoute("working"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		rn.Annotate("session", "locked #a1b2c3")
		_ = rn.Finish()
		<-release
	}))
	done := pool.Middleware(lifeline.WithRoute("done"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	for i := range 256 {
		get(done, fmt.Sprintf("/done?i=%d", i))
	}
	drain(b, pool)
	for i := range live {
		get(working, fmt.Sprintf("/working?i=%d", i))
	}
	return pool
}

// BenchmarkStatus measures one request to each format with 64 live runs and
// 256 recent records, next to a baseline: a bare handler that marshals
// Pool.Active and Pool.Recent as they are.
func BenchmarkStatus(b *testing.B) {
	pool := benchPool(b, 64)
	st, err := status.New(pool)
	if err != nil {
		b.Fatal(err)
	}
	withSection, err := status.New(pool, status.WithSection("jobs", func(context.Context) ([]status.Field, error) {
		return []status.Field{{Name: "available", Value: "0"}, {Name: "retryable", Value: "0"}}, nil
	}))
	if err != nil {
		b.Fatal(err)
	}
	baseline := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := json.Marshal(struct {
			Stats  lifeline.Stats
			Active []lifeline.RunInfo
			Recent []lifeline.Record
		}{pool.Stats(), pool.Active(), pool.Recent()})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_, _ = w.Write(out)
	})
	for _, bc := range []struct {
		name   string
		h      http.Handler
		target string
	}{
		{"baseline-raw-json", baseline, "/"},
		{"json", st, "/status?json"},
		{"json-section", withSection, "/status?json"}, // one section: what its goroutine and timer cost
		{"json-full", st, "/status?json&full"},
		{"html", st, "/status"},
		{"metrics", st.Metrics(), "/metrics"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				w := get(bc.h, bc.target)
				if w.Code != 200 {
					b.Fatalf("code %d", w.Code)
				}
				n = w.Body.Len()
			}
			b.ReportMetric(float64(n), "bytes/resp")
		})
	}
}
