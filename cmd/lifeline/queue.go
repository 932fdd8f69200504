package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-go/lifeline/status"
)

// The job queue on the status page and the metrics: both read jobCounts,
// one query of River's table, through a.jobsCache, and list jobStates in
// the same order.

// jobCountsMaxAge is how old the job counts that the status page and the
// metrics show may be: the query scans every job River keeps (completed
// ones for a day), about 70 ms at 300,000 jobs on SQLite's one connection,
// which every order waits for meanwhile; a page refreshes every second.
const jobCountsMaxAge = time.Second

// jobCountCache holds the last job counts read, so that any number of
// pages and scrapes run the query at most once per jobCountsMaxAge. Its
// methods may be called from any goroutine.
type jobCountCache struct {
	once   sync.Once
	sem    chan struct{} // held while the counts are looked at or read: one query at a time
	at     time.Time     // when counts were read; guarded by sem
	counts map[string]int64
}

// get returns counts read less than jobCountsMaxAge ago, or reads them
// with read. It waits for a query in progress, until ctx is done. The map
// returned is shared: read it only.
func (c *jobCountCache) get(ctx context.Context, read func(context.Context) (map[string]int64, error)) (map[string]int64, error) {
	c.once.Do(func() { c.sem = make(chan struct{}, 1) })
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("job counts: %w", context.Cause(ctx))
	}
	defer func() { <-c.sem }()
	if c.counts != nil && time.Since(c.at) < jobCountsMaxAge {
		return c.counts, nil
	}
	counts, err := read(ctx)
	if err != nil {
		return nil, err
	}
	c.counts, c.at = counts, time.Now()
	return counts, nil
}

// jobsSection is the "jobs" section of the status page (/status, ?json):
// how many River jobs are in each state, at most jobCountsMaxAge old, read
// within the section timeout of package status. An error (the database
// unreachable) shows in the section as an error id, with the detail in the
// log.
func (a *app) jobsSection(ctx context.Context) ([]status.Field, error) {
	counts, err := a.jobsCache.get(ctx, a.jobCounts)
	if err != nil {
		return nil, err
	}
	fields := make([]status.Field, len(jobStates))
	for i, s := range jobStates {
		fields[i] = status.Field{Name: string(s), Value: strconv.FormatInt(counts[string(s)], 10)}
	}
	return fields, nil
}

// jobsCollector exports the job queue on /metrics: lifeline_jobs{state},
// the number of River jobs in each state (available, running, retryable,
// scheduled, discarded, completed, cancelled), at most jobCountsMaxAge old.
type jobsCollector struct {
	a    *app
	desc *prometheus.Desc
}

func newJobsCollector(a *app) *jobsCollector {
	return &jobsCollector{a: a, desc: prometheus.NewDesc("lifeline_jobs",
		"Durable jobs (River) of the reference server, by state.", []string{"state"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector. A database that cannot be read
// in a second leaves the metric out of this scrape, logged.
func (c *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	counts, err := c.a.jobsCache.get(ctx, c.a.jobCounts)
	if err != nil {
		c.a.log.Warn("metrics: job counts", "err", err)
		return
	}
	for _, s := range jobStates {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[string(s)]), string(s))
	}
}
