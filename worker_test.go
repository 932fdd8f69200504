package lifeline

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"
)

// TestWorkersReaped: a run goroutine that served a run waits for the next
// one, and exits once it stayed idle for a whole workerIdle period; one that
// is used again in time stays.
func TestWorkersReaped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := NewPool()
		if err != nil {
			t.Fatal(err)
		}
		h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
		serveOne := func() {
			t.Helper()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Body.String() != "ok" {
				t.Fatalf("body = %q, want ok", rec.Body)
			}
		}
		idle := func() int {
			synctest.Wait()
			p.workers.mu.Lock()
			defer p.workers.mu.Unlock()
			return len(p.workers.idle)
		}
		serveOne()
		if n := idle(); n != 1 {
			t.Fatalf("idle run goroutines after one run = %d, want 1", n)
		}
		time.Sleep(workerIdle + time.Second) // one reaper period: not idle for a whole one yet
		serveOne()                           // used again: stays
		if n := idle(); n != 1 {
			t.Fatalf("idle run goroutines after reuse = %d, want 1", n)
		}
		time.Sleep(3 * workerIdle)
		if n := idle(); n != 0 {
			t.Fatalf("idle run goroutines after %v idle = %d, want 0", 3*workerIdle, n)
		}
		if err := p.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
