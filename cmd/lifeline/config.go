package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/lifeline-go/lifeline/server"
	"github.com/lifeline-go/lifeline/status"
)

// defaultAddr is where the reference server listens without -addr: loopback
// only, so that a first `make run` exposes nothing.
const defaultAddr = "127.0.0.1:8080"

// config is the reference server's command line.
type config struct {
	addr         string
	tlsCert      string
	tlsKey       string
	h2c          bool
	timeLimit    time.Duration
	drain        time.Duration
	dataDir      string
	databaseURL  string        // -database or $LIFELINE_DATABASE_URL: PostgreSQL instead of SQLite
	redisURL     string        // -redis or $LIFELINE_REDIS_URL: the sessions in Redis instead of the database
	lockTTL      time.Duration // -session-lock-ttl
	instance     string        // -instance: this server's name in orders, emails and jobs
	instanceSet  bool          // -instance was given: a restart resolves its own placed orders at once
	maxActive    int
	queueTimeout time.Duration
	maxJobs      int
	jobTimeout   time.Duration
	fault        string // $LIFELINE_FAULT: where the crash tests kill the process
	statusToken  string // from -status-token or $LIFELINE_STATUS_TOKEN
	tokenSource  string // "flag", "env" or "" (see statusTokenEnv)
	tokenFile    string // -status-token-file
	hosts        []string
	queryString  bool
	adminAddr    string // -admin: "" for none
	verbose      bool
}

// statusTokenEnv is the environment variable read for the status token when
// neither -status-token nor -status-token-file is given: unlike argv, the
// environment of a process is not visible to other users.
const statusTokenEnv = "LIFELINE_STATUS_TOKEN"

// errUsage wraps every command-line error; the usage has been printed.
var errUsage = errors.New("usage")

// parseFlags reads args (without the program name). It prints the usage to
// stderr for -h (returning flag.ErrHelp) and for an error (returning an
// error matching errUsage).
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("lifeline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: lifeline [flags]\n\n"+
			"The Lifeline reference server: one demo endpoint per PHP connection-handling\n"+
			"scenario; open http://%s/ in a browser. See docs/REFERENCE-SERVER.md.\n\nFlags:\n", defaultAddr)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.addr, "addr", defaultAddr, "`host:port` to listen on (port 0 picks a free port)")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "PEM certificate `file`: serve HTTPS (HTTP/2 by ALPN); needs -tls-key")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "PEM private key `file` for -tls-cert")
	fs.BoolVar(&cfg.h2c, "h2c", false, "also serve HTTP/2 without TLS (prior knowledge, e.g. curl --http2-prior-knowledge)")
	fs.DurationVar(&cfg.timeLimit, "time-limit", 30*time.Second, "default time limit of a run, PHP's max_execution_time (0 = none)")
	fs.DurationVar(&cfg.drain, "drain", server.DefaultDrainTimeout, "on SIGINT/SIGTERM, how long to wait for running and finished runs before cancelling them")
	fs.StringVar(&cfg.dataDir, "data", defaultDataDir(), "`directory` for the embedded SQLite database (created if needed)")
	// The URLs may hold passwords: their defaults come from the environment
	// after parsing, so that -help does not print them.
	fs.StringVar(&cfg.databaseURL, "database", "", "PostgreSQL `URL` (postgres://user:pass@host:port/db) instead of SQLite; default $"+databaseEnv)
	fs.StringVar(&cfg.redisURL, "redis", "", "Redis `URL` (redis://[user:pass@]host:port[/db], rediss:// for TLS) for the sessions and their locks, shared by every instance given it, instead of the database; default $"+redisEnv)
	fs.DurationVar(&cfg.lockTTL, "session-lock-ttl", defaultLockTTL, "a session's lock expires this long after its holder stopped refreshing it (a process that died); the holder refreshes it every third of it; 1s to 5m")
	fs.StringVar(&cfg.instance, "instance", defaultInstance(), "`name` of this server in the orders, emails and jobs it handles (several instances share one PostgreSQL database: give each its own name)")
	fs.IntVar(&cfg.maxActive, "max-active", defaultMaxActive, "most runs at once, including runs still working after Finish, like pm.max_children; more wait up to -queue-timeout, then get 503 (0 = no cap)")
	fs.DurationVar(&cfg.queueTimeout, "queue-timeout", 5*time.Second, "how long a request waits for a run slot when -max-active runs are in the pool")
	fs.IntVar(&cfg.maxJobs, "max-jobs", defaultMaxJobs, "most durable jobs (emails, the work after /demo/finish and /demo/close-early) working at once in this process; the others wait in the database")
	fs.DurationVar(&cfg.jobTimeout, "job-timeout", defaultJobTimeout, "a job's context is cancelled after this long (River retries it); a job running longer than this plus 5s on a process that died is run again")
	fs.StringVar(&cfg.statusToken, "status-token", "", "bearer `token` that opens /status, /metrics and the /demo listings to any client (default: loopback clients only); visible to local users in ps: prefer -status-token-file or $"+statusTokenEnv)
	fs.StringVar(&cfg.tokenFile, "status-token-file", "", "`file` holding the bearer token of -status-token (chmod 600)")
	hosts := fs.String("allowed-hosts", strings.Join(status.DefaultAllowedHosts(), ","), "comma-separated `names` the Host header may give for /status, /metrics, the /demo listings and browser POSTs (any port; * = any), against DNS rebinding")
	fs.BoolVar(&cfg.queryString, "status-query-strings", false, "show query strings of request URIs on /status, in /demo/runs and in the -v log (they may carry tokens and personal data)")
	fs.StringVar(&cfg.adminAddr, "admin", "", "`host:port` of an admin listener of its own for /status and /metrics, which keeps serving while the server drains (e.g. "+server.DefaultAdminAddr+"; loopback unless you protect it with a token); empty: none")
	fs.BoolVar(&cfg.verbose, "v", false, "log at debug level")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, fmt.Errorf("%w: %w", errUsage, err)
	}
	cfg.hosts = splitList(*hosts)
	cfg.fault = os.Getenv(faultEnv)
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cfg.instanceSet = set["instance"]
	if !set["database"] {
		cfg.databaseURL = os.Getenv(databaseEnv)
	}
	if !set["redis"] {
		cfg.redisURL = os.Getenv(redisEnv)
	}
	switch {
	case cfg.statusToken != "":
		cfg.tokenSource = "flag"
	case cfg.tokenFile == "":
		if cfg.statusToken = os.Getenv(statusTokenEnv); cfg.statusToken != "" {
			cfg.tokenSource = "env"
		}
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return cfg, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if err := cfg.validate(); err != nil {
		fs.Usage()
		return cfg, fmt.Errorf("%w: %w", errUsage, err)
	}
	return cfg, nil
}

func (c *config) validate() error {
	if c.redisURL != "" {
		if _, _, err := parseRedisURL(c.redisURL); err != nil {
			return err
		}
	}
	switch {
	case (c.tlsCert == "") != (c.tlsKey == ""):
		return errors.New("-tls-cert and -tls-key go together")
	case c.timeLimit < 0:
		return fmt.Errorf("-time-limit %v: negative", c.timeLimit)
	case c.drain < 0:
		return fmt.Errorf("-drain %v: negative", c.drain)
	case c.dataDir == "" && c.databaseURL == "":
		return errors.New("-data: empty directory")
	case c.lockTTL < time.Second:
		return fmt.Errorf("-session-lock-ttl %v: must be at least 1s", c.lockTTL)
	case c.lockTTL > maxLockTTL:
		return fmt.Errorf("-session-lock-ttl %v: must be at most %v, how long a request keeps its session's lock refreshed", c.lockTTL, maxLockTTL)
	case c.instance == "":
		return errors.New("-instance: empty name")
	case c.maxActive < 0:
		return fmt.Errorf("-max-active %d: negative", c.maxActive)
	case c.queueTimeout <= 0:
		return fmt.Errorf("-queue-timeout %v: must be positive", c.queueTimeout)
	case c.maxJobs < 1 || c.maxJobs > 10000:
		return fmt.Errorf("-max-jobs %d: must be between 1 and 10000", c.maxJobs)
	case c.jobTimeout < time.Second:
		return fmt.Errorf("-job-timeout %v: must be at least 1s", c.jobTimeout)
	case c.addr == "":
		return errors.New("-addr: empty address")
	case c.tokenSource == "flag" && c.tokenFile != "":
		return errors.New("-status-token and -status-token-file: give one")
	case len(c.hosts) == 0:
		return errors.New("-allowed-hosts: no host")
	}
	return nil
}

// The defaults of the limits. A run of the demos holds a goroutine and a
// few kilobytes; 1,000 of them stay far below 100 MB. A job waits in the
// database, not in memory, until one of the -max-jobs workers takes it.
const (
	defaultMaxActive  = 1000
	defaultMaxJobs    = 100
	defaultJobTimeout = maxDuration + 10*time.Second // a job's work is at most maxDuration
	defaultLockTTL    = 30 * time.Second             // package session's default
	maxLockTTL        = 5 * time.Minute              // package session's default WithMaxLockHold, which must not be shorter
)

// defaultInstance is the host name, or "lifeline" when it is unknown.
func defaultInstance() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "lifeline"
}

// queueConfig translates the flags for the job queue.
func (c *config) queueConfig() queueConfig {
	return queueConfig{
		maxWorkers: c.maxJobs,
		jobTimeout: c.jobTimeout,
		rescue:     c.jobTimeout + 5*time.Second,
		poll:       200 * time.Millisecond,
		stopAfter:  c.drain,
	}
}

// splitList splits a comma-separated flag value, dropping spaces and empty
// items.
func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// serverOptions translates the flags for package server.
func (c *config) serverOptions() []server.Option {
	opts := []server.Option{
		server.WithAddr(c.addr),
		server.WithDrainTimeout(c.drain),
		server.WithH2C(c.h2c),
	}
	if c.tlsCert != "" {
		opts = append(opts, server.WithTLS(c.tlsCert, c.tlsKey))
	}
	return opts
}
