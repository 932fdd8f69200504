package frameworks_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/syncbuf"
	"github.com/lifeline-go/lifeline/lifelinetest"
)

// logBuffer collects what a framework's recoverer logs, from the run's
// goroutine while the test reads.
type logBuffer struct{ syncbuf.Buffer }

// Println makes a logBuffer a handlers.RecoveryHandlerLogger.
func (l *logBuffer) Println(v ...any) { fmt.Fprintln(l, v...) }

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
	pool *lifelinetest.Pool
	ts   *httptest.Server
}

// newFixture serves h inside a new pool with opts over pr. The server is
// closed, then the pool shut down, when the test ends.
func newFixture(t *testing.T, pr proto, h http.Handler, opts ...lifeline.Option) *fixture {
	t.Helper()
	pool := lifelinetest.NewPool(t, opts...)
	ts := httptest.NewUnstartedServer(pool.Middleware()(h))
	pool.ConfigureServer(ts.Config) // socket-level abort detection
	pr.start(ts)
	t.Cleanup(ts.Close) // runs before the pool's Shutdown
	return &fixture{pool: pool, ts: ts}
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

// record waits for the run of the request to end and returns its final
// record (the fixture serves one request per test).
func (f *fixture) record(t *testing.T) lifeline.Record {
	t.Helper()
	return f.pool.NextRecord()
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
