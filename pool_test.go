package lifeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/cstest"
)

// TestMaxActive: past the cap a request waits up to the queue timeout, then
// gets 503 with Retry-After, never a hang (PHP-FPM's pm.max_children). Runs
// working after Finish hold their slot.
func TestMaxActive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, lifeline.WithMaxActive(1), lifeline.WithQueueTimeout(time.Second), lifeline.WithTimeLimit(0))
		release := make(chan struct{})
		h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/busy" {
				mustRun(t, r).Finish()
				<-release
			}
		}))
		serve(h, "GET", "/busy") // answered at Finish, still holds the slot
		start := time.Now()
		rec := serve(h, "GET", "/next")
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Errorf("over the cap: %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
		}
		if waited := time.Since(start); waited != time.Second {
			t.Errorf("waited %v, want the 1s queue timeout", waited)
		}
		// A request queued when the slot frees up gets it.
		done := make(chan int)
		go func() { done <- serve(h, "GET", "/queued").Code }()
		synctest.Wait()
		if s := p.Stats(); s.Queued != 1 {
			t.Errorf("Stats().Queued = %d, want 1", s.Queued)
		}
		close(release)
		if code := <-done; code != http.StatusOK {
			t.Errorf("queued request: %d, want 200", code)
		}
		if s := p.Stats(); s.QueueWaits != 2 || s.QueueTimeouts != 1 || s.MaxActive != 1 {
			t.Errorf("Stats() = %+v", s)
		}
	})
}

// TestBackgroundLimit: work after Finish gets its own limit, counted from
// Finish; it is enforced at Check although writes are discarded.
func TestBackgroundLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, lifeline.WithTimeLimit(time.Second), lifeline.WithBackgroundLimit(5*time.Second))
		var ranFor time.Duration
		var st lifeline.Status
		done := make(chan struct{})
		h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn := mustRun(t, r)
			rn.RegisterShutdown(func(ctx context.Context, rn *lifeline.Run) { st = rn.Status(); close(done) })
			rn.Finish()
			start := time.Now()
			defer func() { ranFor = time.Since(start) }()
			for {
				select {
				case <-time.After(100 * time.Millisecond):
				case <-r.Context().Done():
				}
				io.WriteString(w, "progress") // discarded, never terminates by itself
				rn.Check()
			}
		}))
		serve(h, "GET", "/")
		<-done
		if ranFor != 5*time.Second || st != lifeline.Timeout {
			t.Errorf("background work ran %v with status %v; want 5s and timeout", ranFor, st)
		}
	})
}

// TestAnnotateAndActive: notes and live runs are visible from another
// goroutine while the run works (a -race test of the concurrency claim).
func TestAnnotateAndActive(t *testing.T) {
	p := newPool(t)
	started, release := make(chan struct{}), make(chan struct{})
	h := p.Middleware(lifeline.WithRoute("annotated"))(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn := mustRun(t, r)
		rn.Annotate("session", "locked")
		close(started)
		<-release
		rn.Annotate("session", "")
	}))
	go serve(h, "GET", "/a?x=1")
	<-started
	act := p.Active()
	if len(act) != 1 || act[0].Notes["session"] != "locked" || act[0].Route != "annotated" || act[0].URI != "/a?x=1" {
		t.Errorf("Active() = %+v", act)
	}
	if act[0].TimeLimit != 30*time.Second || act[0].TimeLeft <= 0 {
		t.Errorf("TimeLimit %v left %v", act[0].TimeLimit, act[0].TimeLeft)
	}
	close(release)
	waitFor(5*time.Second, func() bool { return len(p.Recent()) == 1 })
	if rec := p.Recent(); len(rec) != 1 || len(rec[0].Notes) != 0 {
		t.Errorf("Recent() = %+v", rec)
	}
}

// TestAbortDetectionTLS: the socket under a TLS HTTP/1.1 connection is
// watched too.
func TestAbortDetectionTLS(t *testing.T) {
	p := newPool(t)
	started, out := make(chan struct{}, 1), make(chan seen, 1)
	ts := httptest.NewUnstartedServer(p.Middleware()(silentHandler(t, started, out)))
	p.ConfigureServer(ts.Config)
	ts.StartTLS()
	defer ts.Close()
	c, err := tlsDial(ts)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\npartial body")
	<-started
	c.Close()
	if s := <-out; s.status != lifeline.Aborted || !errors.Is(s.cause, lifeline.ErrClientAborted) {
		t.Errorf("status %v cause %v, want aborted", s.status, s.cause)
	}
}

func tlsDial(ts *httptest.Server) (net.Conn, error) {
	cfg := ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	return tlsDialer(ts.Listener.Addr().String(), cfg)
}

var _ = cstest.H1

// TestFinishConcurrentReuse: runs that answer with Finish and end at once,
// many at a time, while their connection sides are still waking up. The run
// may end (and its pooled exchange be handed to another request) before the
// connection side has read the event that released it; the exchange must
// not be reused until both sides are done with it. Under -race a shared
// exchange shows as a race, and without it as a request that never returns
// (the status package's concurrency test hung this way).
func TestFinishConcurrentReuse(t *testing.T) {
	p := newPool(t)
	h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path)
		mustRun(t, r).Finish()
	}))
	const workers, each = 8, 300
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() {
				for j := range each {
					path := fmt.Sprintf("/%d/%d", i, j)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
					if rec.Body.String() != path {
						t.Errorf("GET %s: body %q", path, rec.Body.String())
					}
				}
			})
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("requests still not answered after a minute: a connection side was never woken")
	}
}
