package lifeline_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
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
	waitIdle(t, p, 5*time.Second)
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
