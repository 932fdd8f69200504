package main

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeline-go/lifeline/status"
)

// The job queue on the status page and the metrics: both read jobCounts,
// one query of River's table, and list jobStates in the same order.

// jobsSection is the "jobs" section of the status page (/status, ?json):
// how many River jobs are in each state, read for each request within the
// section timeout of package status. An error (the database unreachable)
// shows in the section as an error id, with the detail in the log.
func (a *app) jobsSection(ctx context.Context) ([]status.Field, error) {
	counts, err := a.jobCounts(ctx)
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
// scheduled, discarded, completed, cancelled), read at each scrape.
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
	counts, err := c.a.jobCounts(ctx)
	if err != nil {
		c.a.log.Warn("metrics: job counts", "err", err)
		return
	}
	for _, s := range jobStates {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[string(s)]), string(s))
	}
}
