package lifeline_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lifeline-go/lifeline"
)

// unwrapper is a middleware's ResponseWriter that exposes the one it wraps,
// as http.ResponseController expects.
type unwrapper struct{ http.ResponseWriter }

func (u unwrapper) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// opaque is a middleware's ResponseWriter that does not.
type opaque struct{ http.ResponseWriter }

// TestNestedBufferingSubRequest: a nested route with WithOutputBuffering
// serving a sub-request from another goroutine, into a ResponseWriter of
// its own, leaves the run's output stack alone while the run writes
// (under -race: no race on the stack), and both answers are whole; the
// nested route given the run's own writer, directly or through Unwrap,
// still replaces the run's base buffer, and through a wrapper that hides
// it, it does not.
func TestNestedBufferingSubRequest(t *testing.T) {
	const writes = 200
	tests := []struct {
		name      string
		wrap      func(http.ResponseWriter) http.ResponseWriter
		wantChunk int // the run's base buffer after the nested route
	}{
		{"run's writer", func(w http.ResponseWriter) http.ResponseWriter { return w }, 1 << 10},
		{"through Unwrap", func(w http.ResponseWriter) http.ResponseWriter { return unwrapper{w} }, 1 << 10},
		{"hidden by a wrapper", func(w http.ResponseWriter) http.ResponseWriter { return opaque{w} }, 4096},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPool(t)
			inner := p.Middleware(lifeline.WithOutputBuffering(1 << 10))(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "sub")
			}))
			var chunk int
			outer := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rn := mustRun(t, r)
				// The sub-request, on a goroutine, with a writer of its own.
				sub := make(chan string, 1)
				go func() {
					rec := httptest.NewRecorder()
					inner.ServeHTTP(rec, r)
					sub <- rec.Body.String()
				}()
				for range writes {
					io.WriteString(w, "x")
				}
				if got := <-sub; got != "sub" {
					t.Errorf("sub-request answered %q, want %q", got, "sub")
				}
				// The nested route on the run's goroutine, before output.
				rn.Output().Clean()
				inner.ServeHTTP(tt.wrap(w), r)
				if st := rn.Output().Status(); len(st) == 1 {
					chunk = st[0].ChunkSize
				}
				rn.Output().Clean()
				io.WriteString(w, strings.Repeat("x", writes))
			}))
			rec := serve(outer, "GET", "/")
			if want := strings.Repeat("x", writes); rec.Body.String() != want {
				t.Errorf("run answered %d bytes %.20q..., want %d x", rec.Body.Len(), rec.Body.String(), writes)
			}
			if chunk != tt.wantChunk {
				t.Errorf("base buffer after the nested route: %d bytes, want %d", chunk, tt.wantChunk)
			}
		})
	}
}
