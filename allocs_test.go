//go:build !race

package lifeline_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lifeline-go/lifeline"
)

// TestRunAllocations checks what BenchmarkOverhead measures, as a bound
// that holds on any machine: a run of a handler that writes a short body
// allocates at most one object beyond what the handler itself does (the
// Run, which holds the handler's copy of the request), and the handler
// still sees the run's context through its request.
func TestRunAllocations(t *testing.T) {
	p, err := lifeline.NewPool()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	var sawRun bool
	h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, sawRun = lifeline.FromContext(r.Context())
		io.WriteString(w, "Hello, world!\n")
	}))
	r := httptest.NewRequest("GET", "/", nil)
	w := &nopWriter{h: make(http.Header)}
	h.ServeHTTP(w, r) // the pool's goroutines and buffers
	allocs := testing.AllocsPerRun(200, func() {
		clear(w.h)
		h.ServeHTTP(w, r)
	})
	if !sawRun {
		t.Error("the handler's r.Context() is not the run's")
	}
	if allocs > 1 {
		t.Errorf("a run allocates %.2f objects, want at most 1", allocs)
	}
}
