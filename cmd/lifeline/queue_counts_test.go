package main

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestJobCountsShared: the status page's jobs section and the metrics'
// lifeline_jobs read River's table (a scan of every job, about 70 ms at
// 300,000 jobs on SQLite's one connection, which every order waits for)
// at most once per jobCountsMaxAge, however many clients ask: 10 clients x
// 10 page requests and 10 scrapes at once run one query, and each gets the
// counts.
func TestJobCountsShared(t *testing.T) {
	ctx := context.Background()
	d := openTestSQLite(t)
	if err := d.migrate(ctx); err != nil {
		t.Fatal(err)
	}
	a := &app{db: d, log: slog.New(slog.DiscardHandler)}
	col := newJobsCollector(a)
	run0 := d.stmts.run.Load()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for range 10 {
				fields, err := a.jobsSection(ctx)
				if err != nil || len(fields) != len(jobStates) || fields[0].Value != "0" {
					t.Errorf("jobs section: %v, %v", fields, err)
					return
				}
			}
		})
		wg.Go(func() {
			ch := make(chan prometheus.Metric, len(jobStates))
			col.Collect(ch)
			if len(ch) != len(jobStates) {
				t.Errorf("lifeline_jobs: %d states, want %d", len(ch), len(jobStates))
			}
		})
	}
	wg.Wait()
	if ran := d.stmts.run.Load() - run0; ran != 1 {
		t.Errorf("110 reads of the job counts ran %d statements, want 1", ran)
	}
}
