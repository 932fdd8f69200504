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

// statusOptions are the options of the status page, of the listings (which
// share its access rule) and of the run log. Query strings are hidden
// unless -status-query-strings: the demos' parameters carry no secrets,
// but a query string in general may (issue 19).
func (a *app) statusOptions() []status.Option {
	opts := []status.Option{
		status.WithQueryStrings(a.cfg.queryString),
		status.WithAllowedHosts(a.cfg.hosts...),
		status.WithLogger(a.log),
		status.WithFeed(a.feed), // metrics see every run as it ends, none missed between scrapes
	}
	switch {
	case a.cfg.tokenFile != "":
		opts = append(opts, status.WithBearerTokenFile(a.cfg.tokenFile))
	case a.cfg.statusToken != "":
		opts = append(opts, status.WithBearerToken(a.cfg.statusToken))
	}
	return opts
}

// newStatus builds the status page (package status): HTML at /status, JSON
// at /status?json, Prometheus metrics at /metrics. Only loopback clients
// that name an allowed host may see it, unless a token is given
// (-status-token-file, $LIFELINE_STATUS_TOKEN or -status-token), which every
// client then needs.
func (a *app) newStatus() (*status.Handler, error) {
	opts := append(a.statusOptions(), status.WithSection("jobs", a.jobsSection)) // River's jobs by state (queue.go)
	h, err := status.New(a.pool, opts...)
	if err != nil {
		return nil, fmt.Errorf("status page (see -status-token, -status-token-file, $%s, -allowed-hosts): %w", statusTokenEnv, err)
	}
	switch a.cfg.tokenSource {
	case "flag":
		a.log.Warn("lifeline: -status-token is visible to every local user (ps, /proc); use -status-token-file or $" + statusTokenEnv)
	case "env":
		a.log.Info("lifeline: status token read from $" + statusTokenEnv)
	}
	if err := h.Metrics().Registry().Register(newJobsCollector(a)); err != nil {
		return nil, fmt.Errorf("job metrics: %w", err)
	}
	if a.cfg.queryString {
		a.log.Warn("lifeline: -status-query-strings: request query strings are shown on /status, in /demo/runs and in the log")
	}
	return h, nil
}

// mountStatus mounts the status page built by newApp. It is not a run: it
// only reads the pool.
func (a *app) mountStatus(mux *http.ServeMux) {
	mux.Handle("/status", a.status)
	mux.Handle("/metrics", a.status.Metrics())
}

// adminRoutes is what -admin serves on a listener of its own, which stays
// up while the main listener drains: the status page and the metrics,
// behind the same access rule.
func (a *app) adminRoutes() http.Handler {
	mux := http.NewServeMux()
	a.mountStatus(mux)
	return mux
}

// listing puts a listing of what the runs did (/demo/runs, /demo/orders,
// /demo/jobs) behind the status page's access rule: it shows the same
// data (issue 19: /demo/runs answered any client).
func (a *app) listing(f http.HandlerFunc) http.Handler {
	return a.status.Access().Handler(f)
}

// protect rejects state-changing requests that a browser sends across
// sites, with Go's http.CrossOriginProtection (Sec-Fetch-Site, else Origin
// against Host); safe methods and clients that send neither header (curl,
// scripts) pass. A cross-origin check cannot see DNS rebinding, where the
// page's origin is the rebound name itself: so a state-changing request
// that a browser sent (it carries Origin or Sec-Fetch-Site) must also name
// an allowed host (-allowed-hosts). Refusals get 403 with a short reason.
func (a *app) protect(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "Forbidden: cross-origin request", http.StatusForbidden)
	}))
	acc := a.status.Access()
	return cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !safeMethod(r.Method) && fromBrowser(r) && !acc.HostAllowed(r.Host) {
			http.Error(w, "Forbidden: Host not allowed", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	}))
}

// safeMethod reports the methods CrossOriginProtection lets through.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// fromBrowser reports whether r carries a header only browsers add to
// requests a page makes.
func fromBrowser(r *http.Request) bool {
	return r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") != ""
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
		err := status.LogRecords(ctx, a.pool, a.log, slog.LevelDebug, 200*time.Millisecond, status.WithQueryStrings(a.cfg.queryString))
		if err != nil {
			a.log.Error("lifeline: run log", "err", err)
		}
	})
	return wg.Wait
}
