package status_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/pooltest"
	"github.com/lifeline-go/lifeline/internal/wait"
)

// newPool returns the test kit's pool, shut down when the test ends and
// then checked for leaked goroutines (internal/pooltest).
func newPool(t testing.TB, opts ...lifeline.Option) *lifeline.Pool {
	t.Helper()
	return pooltest.New(t, opts...).Pool
}

// get serves a GET of target to h from a loopback client, with Host
// 127.0.0.1:8080, as a recorder.
func get(h http.Handler, target string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Host = "127.0.0.1:8080" // an allowed Host (WithAllowedHosts), as a browser on loopback sends
	r.RemoteAddr = "127.0.0.1:40000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// drain waits until the pool has no live run, so that every ended run's
// record is in the ring: a response can reach the client a moment before
// its run's record is stored. Only for tests on real sockets or with runs
// that end by themselves; synctest tests use synctest.Wait.
func drain(t testing.TB, pool *lifeline.Pool) {
	t.Helper()
	waitFor(t, "no live runs", func() bool { return len(pool.Active()) == 0 })
}

// waitFor polls cond until it holds, failing the test after 10s. It waits
// for events on real sockets and goroutines; it asserts no timing.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	wait.For(t, 10*time.Second, what, cond)
}
