package frameworks_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
)

// logBuffer collects what a framework's recoverer logs. Recoverers write
// from the run's goroutine while the test reads, so it is guarded.
type logBuffer struct {
	mu  sync.Mutex // guards buf
	buf strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// Println makes a logBuffer a handlers.RecoveryHandlerLogger.
func (l *logBuffer) Println(v ...any) { fmt.Fprintln(l, v...) }

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// proto is how the test server speaks to its client.
type proto struct {
	name  string
	major int // the response's ProtoMajor
	start func(ts *httptest.Server)
}

var protos = []proto{
	{name: "h1", major: 1, start: func(ts *httptest.Server) { ts.Start() }},
	{name: "h2", major: 2, start: func(ts *httptest.Server) { ts.EnableHTTP2 = true; ts.StartTLS() }},
}

// fixture is one pool behind one test server.
type fixture struct {
	pool    *lifeline.Pool
	ts      *httptest.Server
	poolLog *logBuffer // lifeline's own log, for failure messages
}

// newFixture serves h inside a new pool with opts over pr. The server is
// closed, then the pool shut down, when the test ends.
func newFixture(t *testing.T, pr proto, h http.Handler, opts ...lifeline.Option) *fixture {
	t.Helper()
	poolLog := new(logBuffer)
	opts = append([]lifeline.Option{lifeline.WithLogger(slog.New(slog.NewTextHandler(poolLog, nil)))}, opts...)
	pool, err := lifeline.NewPool(opts...)
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := pool.Shutdown(ctx); err != nil {
			t.Errorf("Pool.Shutdown: %v; active: %+v", err, pool.Active())
		}
	})
	ts := httptest.NewUnstartedServer(pool.Middleware()(h))
	pool.ConfigureServer(ts.Config) // socket-level abort detection
	pr.start(ts)
	t.Cleanup(ts.Close) // runs before the pool's Shutdown
	return &fixture{pool: pool, ts: ts, poolLog: poolLog}
}

// result is what the client received.
type result struct {
	code  int
	body  string // what could be read, complete or not
	proto int
	err   error // from Do or from reading the body; nil when the response read complete
}

// get sends a GET for path and reads the whole answer. When abort is not
// nil, the request is cancelled (the client leaves) as soon as abort is
// closed.
func (f *fixture) get(t *testing.T, path string, abort <-chan struct{}) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if abort != nil {
		go func() {
			select {
			case <-abort:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.ts.URL+path, nil)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return result{code: resp.StatusCode, body: string(body), proto: resp.ProtoMajor, err: err}
}

// record waits, bounded, until the pool has no live run and has recorded
// one, and returns the newest record. A run still alive fails the test:
// something leaked.
func (f *fixture) record(t *testing.T) lifeline.Record {
	t.Helper()
	var active []lifeline.RunInfo
	var recent []lifeline.Record
	ok := waitFor(10*time.Second, func() bool {
		active, recent = f.pool.Active(), f.pool.Recent()
		return len(active) == 0 && len(recent) > 0
	})
	if !ok {
		t.Fatalf("after 10s: Active() = %+v, %d Recent() records, want no live run and one record\nlifeline log:\n%s",
			active, len(recent), f.poolLog)
	}
	return recent[0]
}

// waitFor polls cond every millisecond for up to d and reports whether it
// became true.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return cond()
}

// mustRun returns r's run. Without one the handler cannot do what the case
// needs: it answers 418 so that the client side fails loudly.
func mustRun(w http.ResponseWriter, r *http.Request) (*lifeline.Run, bool) {
	rn, ok := lifeline.FromContext(r.Context())
	if !ok {
		http.Error(w, "no lifeline run in the request context", http.StatusTeapot)
	}
	return rn, ok
}

// work stands for a slice of a handler's real work between two checks or
// writes; it is not synchronisation.
func work() { time.Sleep(time.Millisecond) }

// workBound ends a handler's loop that termination should have ended, so
// that a run the fix misses still ends and the test reports it rather than
// hangs.
const workBound = 5 * time.Second

// isCut reports whether err says the response was cut short: an HTTP/1
// connection closed before the end of the body (or before any response), or
// an HTTP/2 stream reset.
func isCut(err error) bool {
	if err == nil {
		return false
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		strings.Contains(err.Error(), "stream error") || strings.Contains(err.Error(), "INTERNAL_ERROR") ||
		strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "server closed")
}
