package lifeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline"
)

// TestWithOutcome: a logger outside the pool logs what was sent, not what
// the handler chose (issue 14: "an outer logging middleware logs 201 0B for
// a client that left").
func TestWithOutcome(t *testing.T) {
	tests := []struct {
		name string
		opts []lifeline.Option
		h    http.HandlerFunc
		want lifeline.Outcome
	}{
		{name: "normal", h: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, "created")
		}, want: lifeline.Outcome{Code: 201, BytesSent: 7}},
		{name: "finish", h: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "early")
			runOf(r).Finish()
			time.Sleep(20 * time.Millisecond)
		}, want: lifeline.Outcome{Code: 200, BytesSent: 5, Finished: true}},
		{name: "time limit", opts: []lifeline.Option{lifeline.WithTimeLimit(50 * time.Millisecond)},
			h: func(w http.ResponseWriter, r *http.Request) {
				for {
					runOf(r).Check()
					time.Sleep(time.Millisecond)
				}
			}, want: lifeline.Outcome{Code: 503, Status: lifeline.Timeout, Cause: lifeline.CauseTimeLimit}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPool(t, tt.opts...)
			var got *lifeline.Outcome
			h := p.Middleware()(tt.h)
			logger := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r, out := p.WithOutcome(r)
				defer func() { got = out }()
				h.ServeHTTP(w, r)
			})
			logger.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil))
			if got.Run == 0 {
				t.Fatal("Outcome.Run = 0: not filled in")
			}
			got.Run = 0
			if *got != tt.want {
				t.Errorf("Outcome = %+v, want %+v", *got, tt.want)
			}
		})
	}
}

// TestWithRunEnded: the hook gets every run's final record exactly once,
// including runs that go on after Finish, without polling (issue 17).
func TestWithRunEnded(t *testing.T) {
	var mu sync.Mutex
	seen := map[uint64]int{}
	var finished int
	p := newPool(t, lifeline.WithRunEnded(func(rec lifeline.Record) {
		mu.Lock()
		defer mu.Unlock()
		seen[rec.ID]++
		if rec.Finished {
			finished++
		}
	}), lifeline.WithRecentRuns(1))
	h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "x")
		if r.URL.Query().Has("finish") {
			runOf(r).Finish()
			time.Sleep(5 * time.Millisecond)
		}
	}))
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", fmt.Sprintf("/?i=%d%s", i, map[bool]string{true: "&finish"}[i%2 == 0]), nil))
		})
	}
	wg.Wait()
	p.WaitIdle(5 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n || finished != n/2 {
		t.Errorf("hook saw %d runs (%d finished), want %d (%d)", len(seen), finished, n, n/2)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("run %d seen %d times", id, k)
		}
	}
}

// TestWithRunEndedSeveral: every WithRunEnded function gets every record, in
// the order given; Shutdown returns only after the last one has returned
// (a tracer and a metrics feed on one pool, and neither may miss the last
// run); a nil function is an error from NewPool.
func TestWithRunEndedSeveral(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls []string // the hooks run one after the other
		release := make(chan struct{})
		hook := func(name string, block bool) func(lifeline.Record) {
			return func(lifeline.Record) {
				calls = append(calls, name)
				if block {
					<-release
				}
			}
		}
		p, err := lifeline.NewPool(lifeline.WithRunEnded(hook("first", false)), lifeline.WithRunEnded(hook("second", true)))
		if err != nil {
			t.Fatal(err)
		}
		h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") }))
		go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		synctest.Wait() // the run ended; the second function holds
		shut := make(chan error, 1)
		go func() { shut <- p.Shutdown(context.Background()) }()
		synctest.Wait()
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned (%v) while a WithRunEnded function was still running", err)
		default:
		}
		if got := strings.Join(calls, ","); got != "first,second" {
			t.Errorf("calls = %s, want first,second", got)
		}
		close(release)
		if err := <-shut; err != nil {
			t.Fatalf("Shutdown = %v", err)
		}
	})
	if _, err := lifeline.NewPool(lifeline.WithRunEnded(nil)); !errors.Is(err, lifeline.ErrInvalidOption) {
		t.Errorf("NewPool(WithRunEnded(nil)) = %v, want ErrInvalidOption", err)
	}
}
