// Command lifeline-node runs one [node.Node]: the Lifeline server whose
// sessions and idempotency keys live in a shared Redis, so that several
// processes can serve the same clients. The scale-out (R6) and Redis-fault
// (R5) scenarios of package reliability run it.
//
//	lifeline-node -addr 127.0.0.1:0 -redis 127.0.0.1:6379 -name a
//
// It prints "listening on http://ADDR" once bound, and drains on SIGINT or
// SIGTERM (exit status 1 if the drain was cut short).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lifeline-go/lifeline/reliability/node"
	"github.com/lifeline-go/lifeline/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lifeline-node:", err)
		os.Exit(1)
	}
}

// run parses args, serves until ctx is done, then drains.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("lifeline-node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg   node.Config
		addr  = fs.String("addr", "127.0.0.1:0", "`host:port` to listen on")
		drain = fs.Duration("drain", 10*time.Second, "drain timeout on SIGINT/SIGTERM")
		debug = fs.Bool("v", false, "log at debug level")
	)
	fs.StringVar(&cfg.Name, "name", "node", "name reported in every answer")
	fs.StringVar(&cfg.RedisAddr, "redis", "127.0.0.1:6379", "Redis `host:port` for sessions and idempotency keys")
	fs.DurationVar(&cfg.TimeLimit, "time-limit", 30*time.Second, "time limit of a run")
	fs.DurationVar(&cfg.LockTTL, "lock-ttl", 30*time.Second, "session lock TTL")
	fs.DurationVar(&cfg.StoreTimeout, "store-timeout", time.Second, "bound on each Redis call")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("node", cfg.Name)
	cfg.Logger = log
	n, err := node.New(cfg)
	if err != nil {
		return err
	}
	srv, err := server.New(n.Pool(), n.Handler(), server.WithAddr(*addr), server.WithDrainTimeout(*drain), server.WithLogger(log))
	if err != nil {
		return errors.Join(err, n.Close())
	}
	ln, err := srv.Listen(ctx)
	if err != nil {
		return errors.Join(err, n.Close())
	}
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	serveErr := srv.Serve(ctx, ln)
	return errors.Join(serveErr, n.Close())
}
