package lifeline

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestNestedRoutesConcurrent: two nested routes applied at once to the
// same run from sub-requests on two goroutines (a route named "a" with a
// 7 s stall timeout, one with a 3 s grace period) both take effect: neither
// copy of the run's settings overwrites the other's change.
func TestNestedRoutesConcurrent(t *testing.T) {
	p, err := NewPool()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(t.Context())
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	routeA := p.Middleware(WithRoute("a"), WithStallTimeout(7*time.Second))(noop)
	grace := p.Middleware(WithGracePeriod(3 * time.Second))(noop)
	const runs = 1000
	lost := 0
	for range runs {
		var got config
		h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn, _ := FromContext(r.Context())
			var wg sync.WaitGroup
			start := make(chan struct{})
			for _, sub := range []http.Handler{routeA, grace} {
				wg.Go(func() {
					<-start
					sub.ServeHTTP(httptest.NewRecorder(), r)
				})
			}
			close(start)
			wg.Wait()
			got = *rn.conf()
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		if got.route != "a" || got.stallTimeout != 7*time.Second || got.gracePeriod != 3*time.Second {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d runs lost one of two nested routes applied at once", lost, runs)
	}
}
