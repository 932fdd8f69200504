package main

import (
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"

	bolt "go.etcd.io/bbolt"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/compress"
	"github.com/lifeline-go/lifeline/idempotency"
	idemstore "github.com/lifeline-go/lifeline/idempotency/boltstore"
	"github.com/lifeline-go/lifeline/session"
	sessstore "github.com/lifeline-go/lifeline/session/boltstore"
	"github.com/lifeline-go/lifeline/status"
)

// demoRoutes are the route names of the demo endpoints, as runs and
// records carry them (lifeline.WithRoute) and /demo/runs?route= filters them.
var demoRoutes = []string{"stream", "order", "finish", "close-early", "timeout", "timeout-reset", "session"}

// app is the reference server: its pool, its stores and its middleware. It
// is created by newApp and released by close, after the server has drained.
type app struct {
	cfg      config
	log      *slog.Logger
	pool     *lifeline.Pool
	mainDB   *bolt.DB // jobs, sessions, idempotency keys
	ordersDB *bolt.DB // orders
	orders   *orders
	jobs     jobStore
	compress *compress.Compressor
	idem     *idempotency.Middleware
	sessions *session.Manager
	status   *status.Handler
	index    *template.Template
}

// newApp opens the databases in cfg.dataDir and builds the pool and the
// middleware. On error it closes what it opened.
func newApp(cfg config, log *slog.Logger) (a *app, err error) {
	a = &app{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			a.close()
			a = nil
		}
	}()
	a.pool, err = lifeline.NewPool(lifeline.WithTimeLimit(cfg.timeLimit), lifeline.WithLogger(log))
	if err != nil {
		return a, err
	}
	if a.mainDB, err = openDB(cfg.dataDir, mainFile); err != nil {
		return a, err
	}
	if a.ordersDB, err = openDB(cfg.dataDir, ordersFile); err != nil {
		return a, err
	}
	if a.orders, err = newOrders(a.ordersDB); err != nil {
		return a, err
	}
	if a.jobs, err = newJobs(a.mainDB); err != nil {
		return a, err
	}
	if a.compress, err = compress.New(); err != nil {
		return a, err
	}
	is, err := idemstore.New(a.mainDB)
	if err != nil {
		return a, fmt.Errorf("idempotency store: %w", err)
	}
	// A retry that arrives while the first request still works waits for
	// its answer, up to the longest an order can take, instead of a 409;
	// the middleware ends the wait a second before the retry's own time
	// limit, so it answers 409 itself rather than the limit's 503.
	if a.idem, err = idempotency.New(is, idempotency.WithLogger(log), idempotency.WithWait(maxDuration)); err != nil {
		return a, err
	}
	ss, err := sessstore.New(a.mainDB)
	if err != nil {
		return a, fmt.Errorf("session store: %w", err)
	}
	// WithLockWait(0): wait for a session's lock as PHP does, as long as
	// the run's time limit allows.
	if a.sessions, err = session.New(ss, session.WithLockWait(0), session.WithLogger(log)); err != nil {
		return a, err
	}
	if a.status, err = a.newStatus(); err != nil {
		return a, err
	}
	if a.index, err = parseIndex(); err != nil {
		return a, err
	}
	return a, nil
}

// close closes the databases. Call it after the server has drained.
func (a *app) close() error {
	var errs []error
	for _, db := range []*bolt.DB{a.ordersDB, a.mainDB} {
		if db != nil {
			if err := db.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close %s: %w", db.Path(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// routes returns the server's handler. Demo endpoints run inside the pool,
// each under its route name; the index and the listings are plain handlers,
// so that looking at the runs adds none. The listings are behind the status
// page's access rule; cross-site state-changing requests are refused (see
// protect). Unknown paths get 404, known paths with another method 405.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.serveIndex)
	mux.Handle("GET /demo/stream", a.demo("stream", a.stream))
	// ignore_user_abort for the whole route, from the first instruction, as
	// php.ini would set it: a client that leaves while the body is read
	// must not cancel the order's context before the handler can say so.
	mux.Handle("POST /demo/order", a.pool.Middleware(lifeline.WithRoute("order"), lifeline.WithIgnoreUserAbort(true))(a.idem.Handler(demoFunc(a.order))))
	mux.Handle("GET /demo/orders", a.listing(a.listOrders))
	mux.Handle("GET /demo/finish", a.demo("finish", a.finish, a.compress.Handler))
	mux.Handle("GET /demo/close-early", a.demo("close-early", a.closeEarly))
	mux.Handle("GET /demo/jobs", a.listing(a.listJobs))
	mux.Handle("GET /demo/timeout", a.demo("timeout", a.timeout))
	mux.Handle("GET /demo/timeout-reset", a.demo("timeout-reset", a.timeoutReset))
	mux.Handle("GET /demo/session", a.demo("session", a.session))
	mux.Handle("GET /demo/runs", a.listing(a.listRuns))
	a.mountStatus(mux)
	return a.protect(mux)
}

// demo mounts f in the pool under the route name, behind the middleware mw
// (outermost first), which thus run inside the run.
func (a *app) demo(route string, f demoFunc, mw ...func(http.Handler) http.Handler) http.Handler {
	var h http.Handler = f
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return a.pool.Middleware(lifeline.WithRoute(route))(h)
}
