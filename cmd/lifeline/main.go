// Command lifeline is the Lifeline reference server: one demo endpoint per
// scenario of PHP's connection handling (a stream the client stops, an order
// that must survive the client leaving, an early answer with Finish and the
// manual recipe it replaces, the time limit and its reset, the session
// lock), an HTML page to try them in a browser, and the status page.
//
//	go run ./cmd/lifeline            # or: make run
//	open http://127.0.0.1:8080/
//
// It needs no setup: its data (orders, emails, sessions, idempotency keys and
// the durable jobs of River) is kept in one embedded SQLite database under
// the user's cache directory (-data), or in PostgreSQL given -database or
// $LIFELINE_DATABASE_URL, which several instances may share. Given -redis or
// $LIFELINE_REDIS_URL, the sessions and their locks are kept in Redis
// instead.
// SIGINT or SIGTERM stops it gracefully: it stops accepting, waits for every
// run, including work after Finish, for at most -drain, then cancels what is
// left and exits non-zero. Every flag and endpoint is described in
// docs/REFERENCE-SERVER.md.
//
// The status page, the metrics and the listings of runs, orders and jobs
// answer loopback clients only (by connection address; a forwarding header
// or a Host outside -allowed-hosts refuses them), or holders of the token
// of -status-token-file or $LIFELINE_STATUS_TOKEN. Query strings are hidden
// unless -status-query-strings; cross-site POSTs are refused; clients get
// an id, never the text, of an internal error. docs/SECURITY.md has the
// threat model.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lifeline-go/lifeline/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lifeline:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run is the whole server: it parses args, serves until ctx is done, drains,
// and returns nil after a clean drain. It prints "listening on
// http://ADDR" (https with TLS) to stdout once the listener is bound, so a
// caller that passed -addr 127.0.0.1:0 learns the port, and logs to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if cfg.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	opts := append(cfg.serverOptions(), server.WithLogger(log), server.WithDrainFunc(a.stopQueue))
	if cfg.adminAddr != "" {
		opts = append(opts, server.WithAdmin(cfg.adminAddr, a.adminRoutes()))
	}
	srv, err := server.New(a.pool, a.routes(), opts...)
	if err != nil {
		return errors.Join(err, a.close())
	}
	ln, err := srv.Listen(ctx)
	if err != nil {
		return errors.Join(err, a.close())
	}
	var adminLn net.Listener
	if cfg.adminAddr != "" {
		if adminLn, err = srv.ListenAdmin(ctx); err != nil {
			return errors.Join(err, ln.Close(), a.close())
		}
	}
	scheme := "http"
	if cfg.tlsCert != "" {
		scheme = "https"
	}
	upkeepCtx, stopUpkeep := context.WithCancel(context.WithoutCancel(ctx))
	waitUpkeep, err := a.start(upkeepCtx)
	if err != nil {
		stopUpkeep()
		if adminLn != nil {
			err = errors.Join(err, adminLn.Close())
		}
		return errors.Join(err, ln.Close(), a.close())
	}
	fmt.Fprintf(stdout, "listening on %s://%s\n", scheme, ln.Addr())
	if adminLn != nil {
		fmt.Fprintf(stdout, "admin on http://%s (/status, /metrics; stays up while the server drains)\n", adminLn.Addr())
	}
	log.Info("lifeline: serving", "addr", ln.Addr().String(), "database", a.db.where, "sessions", a.sessionsWhere(),
		"instance", cfg.instance, "time-limit", cfg.timeLimit, "drain", cfg.drain, "max-active", cfg.maxActive, "max-jobs", cfg.maxJobs,
		"h2c", cfg.h2c, "tls", cfg.tlsCert != "")

	logCtx, stopLog := context.WithCancel(context.WithoutCancel(ctx))
	waitLog := a.logRuns(logCtx)
	serveErr := srv.Serve(ctx, ln) // drains the pool and the job workers when ctx is done
	a.settle()
	stopUpkeep()
	waitUpkeep()
	stopLog()
	waitLog()
	a.report(stdout)
	return errors.Join(serveErr, a.close())
}

// stopQueue is the server's drain function (server.WithDrainFunc): it stops
// the job workers beside the pool's drain, within the same deadline, so the
// admin listener stays up while jobs finish. Jobs still working at the
// deadline are cancelled and left to River, which runs them again at the
// next start or on another instance; the hard stop that follows the soft one
// only waits, at most settleTimeout, for the cancelled jobs to return.
func (a *app) stopQueue(ctx context.Context) error {
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.drain+settleTimeout)
	defer cancel()
	return a.queue.stop(stopCtx)
}

// settleTimeout bounds the wait for runs that the drain deadline cancelled:
// the grace period and shutdown budget of the root package (2s each) let
// them stop and run their shutdown functions.
const settleTimeout = 5 * time.Second

// settle waits for the runs that the drain deadline cancelled to end, so
// that their shutdown functions can still record what happened (a job
// "interrupted" by the shutdown) before the databases close. After a clean
// drain it returns at once.
func (a *app) settle() {
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	if err := a.pool.Shutdown(ctx); err != nil {
		a.log.Error("lifeline: runs still alive after the drain", "err", err)
	}
}

// report prints what the pool did and how many durable jobs wait for the
// next start or another instance, and logs the runs that were still alive
// after the drain (runaway runs that ignored their cancellation).
func (a *app) report(stdout io.Writer) {
	st := a.pool.Stats()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	left := int64(-1)
	if counts, err := a.jobCounts(ctx); err != nil {
		a.log.Error("lifeline: job counts", "err", err)
	} else {
		left = counts["available"] + counts["retryable"] + counts["scheduled"] + counts["running"]
	}
	fmt.Fprintf(stdout, "stopped: %d runs, %d time limits hit, %d runaway, %d jobs left for later\n",
		st.Accepted, st.TimeLimitHits, st.Runaway, left)
	for _, ri := range a.pool.Active() {
		a.log.Error("lifeline: run still alive after the drain", "run", ri.ID, "route", ri.Route,
			"uri", ri.URI, "phase", ri.Phase.String(), "elapsed", ri.Elapsed, "runaway", ri.Runaway)
	}
}
