package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/compress"
	"github.com/lifeline-go/lifeline/idempotency"
	idemmem "github.com/lifeline-go/lifeline/idempotency/memstore"
	"github.com/lifeline-go/lifeline/internal/syncbuf"
	"github.com/lifeline-go/lifeline/server"
)

// stormServer is an in-process server built from the library packages as
// the reference server is (pool, package server, compress, idempotency),
// with routes shaped like its demos, instrumented with a ledger: every run
// is tagged by the X-Storm-Tag its client sent, and its shutdown function
// reports to the ledger. Unlike the reference server's ring of 256 records,
// nothing is ever forgotten, so every run can be checked.
type stormServer struct {
	pool   *lifeline.Pool
	ledger *ledger
	idem   *idemmem.Store
	addr   string
	logs   *syncbuf.Buffer

	ordersMu sync.Mutex          // guards orders
	orders   map[string][]uint64 // ref → tags of the runs that committed it

	cancel context.CancelFunc
	served chan error
}

// stormOptions tune the in-process server.
type stormOptions struct {
	timeLimit   time.Duration
	grace       time.Duration
	recent      int
	drain       time.Duration
	extraRoutes func(mux *http.ServeMux, s *stormServer)
}

// startStorm starts the server on a free loopback port.
func startStorm(t testing.TB, o stormOptions) *stormServer {
	t.Helper()
	s := &stormServer{ledger: newLedger(), logs: &syncbuf.Buffer{}, orders: make(map[string][]uint64), served: make(chan error, 1)}
	log := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	popts := []lifeline.Option{lifeline.WithLogger(log), lifeline.WithRecentRuns(max(o.recent, 1))}
	if o.timeLimit > 0 {
		popts = append(popts, lifeline.WithTimeLimit(o.timeLimit))
	}
	if o.grace > 0 {
		popts = append(popts, lifeline.WithGracePeriod(o.grace))
	}
	pool, err := lifeline.NewPool(popts...)
	if err != nil {
		t.Fatal(err)
	}
	s.pool = pool
	comp, err := compress.New(compress.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	s.idem, err = idemmem.New()
	if err != nil {
		t.Fatal(err)
	}
	idem, err := idempotency.New(s.idem, idempotency.WithWait(time.Minute), idempotency.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /stream", s.tagged("stream", http.HandlerFunc(s.stream)))
	mux.Handle("POST /order", s.tagged("order", idem.Handler(http.HandlerFunc(s.order))))
	mux.Handle("GET /finish", s.tagged("finish", comp.Handler(http.HandlerFunc(s.finish))))
	mux.Handle("GET /ignore", s.tagged("ignore", http.HandlerFunc(s.ignore)))
	mux.Handle("GET /timeout", s.tagged("timeout", http.HandlerFunc(s.timeout)))
	if o.extraRoutes != nil {
		o.extraRoutes(mux, s)
	}
	sopts := []server.Option{server.WithAddr("127.0.0.1:0"), server.WithLogger(log), server.WithDrainTimeout(max(o.drain, 10*time.Second))}
	srv, err := server.New(pool, mux, sopts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	ln, err := srv.Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go func() { s.served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		s.cancel()
		<-s.served
	})
	return s
}

// stop drains the server and returns Serve's result.
func (s *stormServer) stop() error {
	s.cancel()
	err := <-s.served
	s.served <- err // for the cleanup
	return err
}

// tagged mounts h in the pool under route, recording each run in the ledger
// with a shutdown function that reports the final status.
func (s *stormServer) tagged(route string, h http.Handler) http.Handler {
	return s.pool.Middleware(lifeline.WithRoute(route))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		tag, err := strconv.ParseUint(r.Header.Get("X-Storm-Tag"), 10, 64)
		if err != nil || rn == nil {
			http.Error(w, "no tag or no run", http.StatusBadRequest)
			return
		}
		rn.Annotate("tag", strconv.FormatUint(tag, 10))
		rn.RegisterShutdown(func(_ context.Context, rn *lifeline.Run) { s.ledger.shutdown(tag, rn.Status()) })
		s.ledger.begin(tag, route, rn.ID())
		h.ServeHTTP(w, r)
	}))
}

func tagOf(r *http.Request) uint64 {
	tag, _ := strconv.ParseUint(r.Header.Get("X-Storm-Tag"), 10, 64)
	return tag
}

func qDur(r *http.Request, name string) time.Duration {
	d, _ := time.ParseDuration(r.URL.Query().Get(name))
	return d
}

func qInt(r *http.Request, name string) int {
	n, _ := strconv.Atoi(r.URL.Query().Get(name))
	return n
}

// sleepCtx waits d or until ctx is done, and returns the context's cause.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return context.Cause(ctx)
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

// stream is the manual's STOP button: lines, flushed one by one, with the
// default abort policy.
func (s *stormServer) stream(w http.ResponseWriter, r *http.Request) {
	rn, _ := lifeline.FromContext(r.Context())
	lines, every := qInt(r, "lines"), qDur(r, "every")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rc := http.NewResponseController(w)
	for i := 1; i <= lines; i++ {
		if i > 1 {
			_ = sleepCtx(rn.Context(), every)
		}
		fmt.Fprintf(w, "line %d of %d\n", i, lines)
		_ = rc.Flush()
	}
}

// streamBody is what a complete /stream?lines=n answers.
func streamBody(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "line %d of %d\n", i, n)
	}
	return b.String()
}

// orderAnswer is the JSON answer of /order.
type orderAnswer struct {
	Ref string `json:"ref"`
	Tag uint64 `json:"tag"`
}

// order is the user notes' order script behind package idempotency, which
// makes the run ignore user aborts: it works, then commits the order.
func (s *stormServer) order(w http.ResponseWriter, r *http.Request) {
	rn, _ := lifeline.FromContext(r.Context())
	_, _ = io.Copy(io.Discard, r.Body)
	ref := r.URL.Query().Get("ref")
	tag := tagOf(r)
	if err := sleepCtx(rn.Context(), qDur(r, "work")); err != nil {
		rn.Check()
		http.Error(w, "order failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	s.ordersMu.Lock()
	s.orders[ref] = append(s.orders[ref], tag)
	s.ordersMu.Unlock()
	s.ledger.mark(tag, func(e *ledgerRun) { e.done = true })
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(orderAnswer{Ref: ref, Tag: tag})
}

// finish answers early: it works for before (while the client may still
// leave and terminate it), sends the message and pad bytes with Finish,
// then works for work.
func (s *stormServer) finish(w http.ResponseWriter, r *http.Request) {
	rn, _ := lifeline.FromContext(r.Context())
	tag := tagOf(r)
	_ = sleepCtx(rn.Context(), qDur(r, "before"))
	rn.Check()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, finishBody(qInt(r, "pad")))
	if err := rn.Finish(); err != nil {
		s.ledger.mark(tag, func(e *ledgerRun) { e.note = "finish: " + err.Error() })
		return
	}
	if err := sleepCtx(rn.Context(), qDur(r, "work")); err == nil {
		s.ledger.mark(tag, func(e *ledgerRun) { e.jobDone = true })
	}
}

// finishBody is the answer of /finish?pad=n.
func finishBody(pad int) string {
	var b strings.Builder
	b.WriteString("We'll email you as soon as this is done.\n")
	for b.Len() < 41+pad {
		b.WriteString("Filler so that the answer is long enough to be worth compressing.\n")
	}
	return b.String()[:41+pad]
}

// ignore is the close-early recipe's ignore_user_abort(true): it writes
// lines over work whatever the client does, then records that it completed.
func (s *stormServer) ignore(w http.ResponseWriter, r *http.Request) {
	rn, _ := lifeline.FromContext(r.Context())
	rn.IgnoreUserAbort(true)
	lines, work := max(qInt(r, "lines"), 1), qDur(r, "work")
	rc := http.NewResponseController(w)
	for i := 1; i <= lines; i++ {
		if err := sleepCtx(rn.Context(), work/time.Duration(lines)); err != nil {
			rn.Check()
		}
		fmt.Fprintf(w, "line %d of %d\n", i, lines)
		_ = rc.Flush()
	}
	s.ledger.mark(tagOf(r), func(e *ledgerRun) { e.done = true })
}

// timeout sets its limit and works for busy, sleeping or spinning.
func (s *stormServer) timeout(w http.ResponseWriter, r *http.Request) {
	rn, _ := lifeline.FromContext(r.Context())
	rn.SetTimeLimit(qDur(r, "limit"))
	busy := qDur(r, "busy")
	if r.URL.Query().Get("mode") == "spin" {
		for start := time.Now(); time.Since(start) < busy; {
			rn.Check()
		}
	} else {
		_ = sleepCtx(rn.Context(), busy)
		rn.Check()
	}
	fmt.Fprintf(w, "worked %v\n", busy)
}
