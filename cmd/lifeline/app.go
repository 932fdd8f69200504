package main

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/compress"
	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/idempotency/sqlstore"
	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/status"
)

// demoRoutes are the route names of the demo endpoints, as runs and
// records carry them (lifeline.WithRoute) and /demo/runs?route= filters them.
var demoRoutes = []string{"stream", "order", "finish", "close-early", "timeout", "timeout-reset", "session"}

// app is the reference server: its pool, its database, its job queue and
// its middleware. It is created by newApp, its workers started by start,
// and it is released by close, after the server has drained.
type app struct {
	cfg       config
	log       *slog.Logger
	pool      *lifeline.Pool
	db        *database
	queue     *queue
	compress  *compress.Compressor
	idem      *idempotency.Middleware
	idemStore *sqlstore.Store
	sessions  *session.Manager
	sessStore *sessionStore  // the sessions in the database; nil with -redis
	redisSess *redisSessions // the sessions in Redis with -redis; else nil
	status    *status.Handler
	feed      *status.Feed  // every ended run, for the metrics and the log records
	jobsCache jobCountCache // the job counts of the status page and the metrics (queue.go)
	index     *template.Template
}

// newApp opens the database (SQLite in cfg.dataDir, or PostgreSQL at
// cfg.databaseURL), creates its tables and River's, and builds the pool,
// the job queue and the middleware. On error it closes what it opened.
func newApp(ctx context.Context, cfg config, log *slog.Logger) (a *app, err error) {
	a = &app{cfg: cfg, log: log, feed: status.NewFeed()}
	defer func() {
		if err != nil {
			err = errors.Join(err, a.close())
			a = nil
		}
	}()
	a.pool, err = lifeline.NewPool(lifeline.WithTimeLimit(cfg.timeLimit), lifeline.WithLogger(log),
		lifeline.WithMaxActive(cfg.maxActive), lifeline.WithQueueTimeout(cfg.queueTimeout),
		lifeline.WithRunEnded(a.feed.RunEnded))
	if err != nil {
		return a, err
	}
	if a.db, err = openDatabase(ctx, cfg.dataDir, cfg.databaseURL); err != nil {
		return a, err
	}
	if a.queue, err = newQueue(a, cfg.queueConfig()); err != nil {
		return a, err
	}
	if a.compress, err = compress.New(); err != nil {
		return a, err
	}
	dialect := sqlstore.SQLite
	if a.db.dialect == postgres {
		dialect = sqlstore.Postgres
	}
	// The idempotency keys live in the same database as the orders, so an
	// order commits with its recorded answer (CompleteTx).
	if a.idemStore, err = sqlstore.New(ctx, a.db.DB, dialect); err != nil {
		return a, fmt.Errorf("idempotency store: %w", err)
	}
	// A retry that arrives while the first request still works waits for
	// its answer, as long as its own time limit allows, instead of a 409;
	// a replay that reaches its client confirms an unconfirmed order.
	if a.idem, err = idempotency.New(a.idemStore, idempotency.WithLogger(log), idempotency.WithWait(maxDuration),
		idempotency.WithOnReplay(a.replayed)); err != nil {
		return a, err
	}
	if err = a.openSessions(ctx); err != nil {
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

// start resolves what a process that died left in flight, then starts the
// job workers and the periodic upkeep (orphaned orders of other instances,
// expired sessions) until ctx is done. The returned wait blocks until the
// upkeep has stopped.
func (a *app) start(ctx context.Context) (wait func(), err error) {
	// What this -instance left in flight belongs to a dead process only if
	// no live process holds the instance's name.
	owned, err := a.db.lockInstance(ctx, a.cfg.instance)
	if err != nil {
		return nil, err
	}
	if !owned {
		a.log.Warn("lifeline: another live process runs as this -instance on the database; "+
			"its orders and jobs in flight are left alone (give each instance its own -instance)", "instance", a.cfg.instance)
	}
	scope := orphansStale
	switch {
	case a.db.dialect == sqlite:
		scope = orphansAll
	case owned:
		scope = orphansMine
	}
	n, err := a.resolveOrphans(ctx, scope)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		a.log.Warn("lifeline: orders left placed by a process that died, now unconfirmed", "orders", n)
	}
	if err := a.queue.start(context.WithoutCancel(ctx), owned); err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	wg.Go(func() { a.upkeep(ctx) })
	return wg.Wait, nil
}

// upkeepEvery is the period of the upkeep.
const upkeepEvery = 30 * time.Second

// upkeep resolves the orders that other instances left placed when they
// died, and prunes expired sessions, every upkeepEvery until ctx is done.
func (a *app) upkeep(ctx context.Context) {
	t := time.NewTicker(upkeepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := a.resolveOrphans(ctx, orphansStale); err != nil {
			a.log.Warn("lifeline: upkeep", "err", err)
		} else if n > 0 {
			a.log.Warn("lifeline: orders left placed by a process that died, now unconfirmed", "orders", n)
		}
		if err := a.pruneSessions(ctx); err != nil {
			a.log.Warn("lifeline: upkeep", "err", err)
		}
	}
}

// close closes the database and the Redis client of the sessions. Call it
// after the server has drained and the job queue has stopped.
func (a *app) close() error {
	err := a.closeSessions()
	if a.db == nil {
		return err
	}
	a.db.logStatements(a.log)
	return errors.Join(err, a.db.close())
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
