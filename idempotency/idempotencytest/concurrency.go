package idempotencytest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/internal/idemtest"
)

// duplicates is how many identical requests RunConcurrency sends at once.
const duplicates = 50

// RunConcurrency checks the double-submit guarantee end to end with stores
// returned by newStore (called once per subtest, as by [Run]): 50 identical
// POSTs with one Idempotency-Key, sent at once over loopback HTTP to an
// [idempotency.Middleware] on the store, run the protected handler exactly
// once; every other request is answered 409 Conflict or the replay of the
// first answer. It runs two subtests: "while the run is held", where the
// first run waits until the 49 others are answered (so all of them must be
// 409, whatever the timing), and "free for all". Call it from the test's
// goroutine, next to [Run].
func RunConcurrency(t *testing.T, newStore func(t *testing.T) idempotency.Store) {
	t.Helper()
	t.Run("while the run is held", func(t *testing.T) {
		var o idemtest.Orders
		entered, proceed := make(chan struct{}), make(chan struct{})
		h := idemtest.NewMiddleware(t, newStore(t)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			<-proceed
			o.ServeHTTP(w, r)
		}))
		ts := httptest.NewServer(h)
		defer ts.Close()
		first := make(chan idemtest.Result, 1)
		go func() { first <- idemtest.Post(ts, "held", "book") }()
		<-entered
		results := idemtest.PostAll(t, duplicates-1, "held", "book", ts)
		close(proceed)
		results = append(results, <-first)
		if conflicts, _ := idemtest.CheckOnce(t, &o, results); conflicts != duplicates-1 {
			t.Fatalf("%d conflicts, want %d", conflicts, duplicates-1)
		}
		if r := idemtest.Post(ts, "held", "book"); !r.Replayed {
			t.Fatalf("after the run: %d %q, want a replay", r.Status, r.Body)
		}
	})
	t.Run("free for all", func(t *testing.T) {
		var o idemtest.Orders
		ts := httptest.NewServer(idemtest.NewMiddleware(t, newStore(t)).Handler(&o))
		defer ts.Close()
		conflicts, replays := idemtest.CheckOnce(t, &o, idemtest.PostAll(t, duplicates, "free", "book", ts))
		t.Logf("%d conflicts, %d replays", conflicts, replays)
	})
}
