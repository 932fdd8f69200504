package lifeline_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
)

// TestAdversaryShutdownRace: requests that arrive while Pool.Shutdown
// begins either get their run before Shutdown returns (Shutdown waits for
// it and for its WithRunEnded functions) or are refused; no handler and no
// WithRunEnded function runs after Shutdown returned.
func TestAdversaryShutdownRace(t *testing.T) {
	const rounds, clients = 200, 4
	for range rounds {
		var returned atomic.Bool
		var late atomic.Int32
		p, err := lifeline.NewPool(
			lifeline.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
			lifeline.WithRunEnded(func(lifeline.Record) {
				if returned.Load() {
					late.Add(1)
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if returned.Load() {
				late.Add(1)
			}
		}))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
			}()
		}
		close(start)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = p.Shutdown(ctx)
		returned.Store(true)
		cancel()
		wg.Wait()
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if n := late.Load(); n > 0 {
			t.Fatalf("%d handlers or WithRunEnded functions ran after Shutdown returned", n)
		}
	}
}
