// Package node is the server the scale-out and Redis-fault scenarios of
// package reliability run as several processes: a Lifeline pool whose
// sessions live in Redis (session/redisstore) and whose POST routes are
// protected by idempotency keys kept in Redis (idempotency/redisstore).
// It is the smallest server that can be scaled out on Redis alone; the
// reference server (cmd/lifeline) scales out on PostgreSQL instead.
//
// Routes:
//
//	GET  /incr?hold=D&mode=M  adds 1 to the session's counter "n" and answers
//	                          {"node","n"} once the session is saved; hold
//	                          keeps the lock for D first. mode=explicit (the
//	                          default) saves with WriteClose and answers 503
//	                          or 409 if the save fails; mode=auto leaves the
//	                          save to the end of the run, as most handlers do.
//	POST /order?work=D        behind the idempotency middleware: works for D,
//	                          then performs its side effect (a count per
//	                          Idempotency-Key, in this process) and answers
//	                          201 {"node","key","effect"}.
//	GET  /effects             the side effects performed here, by key.
//
// When Redis cannot be reached, both routes answer 503 with Retry-After
// within the store timeout: a session is never started empty, an order never
// runs unprotected.
package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/idempotency"
	idemredis "github.com/lifeline-go/lifeline/idempotency/redisstore"
	"github.com/lifeline-go/lifeline/session"
	sessredis "github.com/lifeline-go/lifeline/session/redisstore"
)

// Config configures a [Node]. Zero durations take the defaults named on
// each field.
type Config struct {
	Name         string        // reported in every answer; default "node"
	RedisAddr    string        // host:port of the shared Redis; required
	TimeLimit    time.Duration // the runs' time limit; default 30s
	LockTTL      time.Duration // session lock TTL; default 30s (session's default)
	StoreTimeout time.Duration // bound on each Redis call; default 1s
	Logger       *slog.Logger  // default slog.Default()
}

// Node is one server process's application: its pool, its Redis client
// and its stores. Create it with [New] and release it with [Node.Close]
// after the server has drained.
type Node struct {
	cfg      Config
	pool     *lifeline.Pool
	client   *redis.Client
	sstore   *sessredis.Store
	sessions *session.Manager
	idem     *idempotency.Middleware

	mu      sync.Mutex // guards effects
	effects map[string]int
}

// New connects nothing yet: it builds the pool, the Redis client and the
// stores from cfg, which it validates.
func New(cfg Config) (*Node, error) {
	if cfg.RedisAddr == "" {
		return nil, fmt.Errorf("%w: no Redis address", ErrInvalidConfig)
	}
	if cfg.Name == "" {
		cfg.Name = "node"
	}
	if cfg.TimeLimit == 0 {
		cfg.TimeLimit = 30 * time.Second
	}
	if cfg.LockTTL == 0 {
		cfg.LockTTL = 30 * time.Second
	}
	if cfg.StoreTimeout == 0 {
		cfg.StoreTimeout = time.Second
	}
	if cfg.TimeLimit < 0 || cfg.LockTTL < 0 || cfg.StoreTimeout < 0 {
		return nil, fmt.Errorf("%w: negative duration", ErrInvalidConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &Node{cfg: cfg, effects: make(map[string]int)}
	var err error
	if n.pool, err = lifeline.NewPool(lifeline.WithTimeLimit(cfg.TimeLimit), lifeline.WithLogger(cfg.Logger)); err != nil {
		return nil, err
	}
	// Fail fast: one attempt per call, each bounded by the store timeout.
	n.client = redis.NewClient(&redis.Options{
		Addr:         cfg.RedisAddr,
		DialTimeout:  cfg.StoreTimeout,
		ReadTimeout:  cfg.StoreTimeout,
		WriteTimeout: cfg.StoreTimeout,
		PoolTimeout:  cfg.StoreTimeout,
		MaxRetries:   -1,
		// go-redis retries a failed dial 5 times, 100ms apart, by default:
		// 400ms more for every call while Redis is down.
		DialerRetries:      1,
		DialerRetryTimeout: 10 * time.Millisecond,
		PoolSize:           64,
	})
	if n.sstore, err = sessredis.New(n.client, sessredis.WithPollInterval(50*time.Millisecond)); err != nil {
		n.client.Close()
		return nil, err
	}
	n.sessions, err = session.New(n.sstore,
		session.WithLockWait(0), // as long as the run's time limit allows, as PHP waits
		session.WithLockTTL(cfg.LockTTL),
		session.WithMaxLockHold(max(cfg.LockTTL, 5*time.Minute)),
		session.WithStoreTimeout(cfg.StoreTimeout),
		session.WithLogger(cfg.Logger))
	if err != nil {
		n.Close()
		return nil, err
	}
	istore, err := idemredis.New(n.client)
	if err != nil {
		n.Close()
		return nil, err
	}
	n.idem, err = idempotency.New(istore,
		idempotency.WithWait(cfg.TimeLimit),
		idempotency.WithStoreTimeout(cfg.StoreTimeout),
		idempotency.WithLogger(cfg.Logger))
	if err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// Pool returns the node's pool, for the server and its drain.
func (n *Node) Pool() *lifeline.Pool { return n.pool }

// Handler returns the node's routes.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /incr", n.pool.Middleware(lifeline.WithRoute("incr"))(http.HandlerFunc(n.incr)))
	mux.Handle("POST /order", n.pool.Middleware(lifeline.WithRoute("order"))(n.idem.Handler(http.HandlerFunc(n.order))))
	mux.HandleFunc("GET /effects", n.listEffects)
	return mux
}

// Close ends the session store's subscription and closes the Redis client.
// Call it after the server has drained.
func (n *Node) Close() error {
	var errs []error
	if n.sstore != nil {
		errs = append(errs, n.sstore.Close())
	}
	if n.client != nil {
		errs = append(errs, n.client.Close())
	}
	return errors.Join(errs...)
}

// answer writes v as JSON with the given status.
func answer(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// unavailable answers 503 with Retry-After and a message saying what failed.
func unavailable(w http.ResponseWriter, what string, err error) {
	w.Header().Set("Retry-After", "1")
	answer(w, http.StatusServiceUnavailable, map[string]string{"error": what + ": " + err.Error()})
}

// sleep waits d or until ctx is done, returning the context's cause.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func duration(r *http.Request, name string) time.Duration {
	d, _ := time.ParseDuration(r.URL.Query().Get(name))
	return d
}

// listEffects is GET /effects.
func (n *Node) listEffects(w http.ResponseWriter, _ *http.Request) {
	n.mu.Lock()
	out := make(map[string]int, len(n.effects))
	for k, v := range n.effects {
		out[k] = v
	}
	n.mu.Unlock()
	answer(w, http.StatusOK, out)
}

// effect performs the side effect of the order with key and returns how
// many times this process has performed it.
func (n *Node) effect(key string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.effects[key]++
	return n.effects[key]
}
