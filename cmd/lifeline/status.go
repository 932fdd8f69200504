package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/lifeline-go/lifeline/status"
)

// statusOptions are the options of the status page and the run log. Query
// strings are shown: the demos' parameters are what a visitor wants to see,
// and they carry no secrets.
func (a *app) statusOptions() []status.Option {
	opts := []status.Option{status.WithQueryStrings(true)}
	if a.cfg.statusToken != "" {
		opts = append(opts, status.WithBearerToken(a.cfg.statusToken))
	}
	return opts
}

// newStatus builds the status page (package status): HTML at /status, JSON
// at /status?json, Prometheus metrics at /metrics. Only loopback clients may
// see it, unless -status-token gives a bearer token, which every client then
// needs.
func (a *app) newStatus() (*status.Handler, error) {
	h, err := status.New(a.pool, a.statusOptions()...)
	if err != nil {
		return nil, fmt.Errorf("status page (see -status-token): %w", err)
	}
	return h, nil
}

// mountStatus mounts the status page built by newApp. It is not a run: it
// only reads the pool.
func (a *app) mountStatus(mux *http.ServeMux) {
	if a.status == nil {
		return
	}
	mux.Handle("/status", a.status)
	mux.Handle("/metrics", a.status.Metrics())
}

// logRuns logs the record of every run that ends, at debug level (-v),
// until ctx is done; the returned wait blocks until the last records are
// logged.
func (a *app) logRuns(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	if !a.cfg.verbose {
		return wg.Wait
	}
	wg.Go(func() {
		err := status.LogRecords(ctx, a.pool, a.log, slog.LevelDebug, 200*time.Millisecond, status.WithQueryStrings(true))
		if err != nil {
			a.log.Error("lifeline: run log", "err", err)
		}
	})
	return wg.Wait
}
