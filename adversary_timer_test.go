package lifeline_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
)

// TestShortLimitsAmongLongOnes: runs whose time limit (1 ms) is armed at
// their start, over a real socket, interleaved with runs of a long limit
// that answer at once on the same pool, whose exchanges (and their timers)
// the two kinds share one after another. Every short run ends Timeout at
// its limit; no firing of a short run's timer ever reaches a long run,
// which all end Normal with their answer.
func TestShortLimitsAmongLongOnes(t *testing.T) {
	var mu sync.Mutex
	records := map[string][]lifeline.Record{}
	pool, err := lifeline.NewPool(lifeline.WithGracePeriod(time.Second), lifeline.WithRunEnded(func(r lifeline.Record) {
		mu.Lock()
		records[r.Route] = append(records[r.Route], r)
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/short", pool.Middleware(lifeline.WithRoute("short"), lifeline.WithTimeLimit(time.Millisecond))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn, _ := lifeline.FromContext(r.Context())
			<-r.Context().Done()
			rn.Check() // terminated here
			t.Error("a short run went on past its time limit")
		})))
	mux.Handle("/long", pool.Middleware(lifeline.WithRoute("long"), lifeline.WithTimeLimit(time.Minute))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "ok")
		})))
	srv := httptest.NewUnstartedServer(mux)
	pool.ConfigureServer(srv.Config)
	srv.Start()
	defer srv.Close()

	const clients, each = 8, 60
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range each {
				path := "/long"
				if (c+i)%2 == 0 {
					path = "/short"
				}
				resp, err := srv.Client().Get(srv.URL + path)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if path == "/long" && (resp.StatusCode != http.StatusOK || string(b) != "ok") {
					t.Errorf("GET /long: %d %q", resp.StatusCode, b)
				}
				if path == "/short" && resp.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("GET /short: %d, want 503", resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Config.Shutdown(ctx)
	if err := pool.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := len(records["short"]) + len(records["long"]); n != clients*each {
		t.Fatalf("%d records, want %d", n, clients*each)
	}
	for _, r := range records["long"] {
		if r.Status != lifeline.Normal || r.Code != http.StatusOK {
			t.Errorf("long run %d: status %v cause %v code %d, want Normal 200", r.ID, r.Status, r.Cause, r.Code)
		}
	}
	for _, r := range records["short"] {
		if r.Status&lifeline.Timeout == 0 || r.Runaway || r.Cause != lifeline.CauseTimeLimit {
			t.Errorf("short run %d: status %v cause %v runaway %v, want Timeout by its time limit", r.ID, r.Status, r.Cause, r.Runaway)
		}
	}
}
