package lifeline

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"
)

// TestWriteAfterStop checks that a write's one-look path (runWriter.plain)
// does not hide what must stop the handler: after a write through it, the
// client leaving, the time limit passing, or the pool's shutdown past its
// deadline terminates the handler at its next Write or WriteString.
func TestWriteAfterStop(t *testing.T) {
	stops := []struct {
		name string
		stop func(rn *Run)
	}{
		{"abort", func(rn *Run) { rn.abort(CauseClosed) }},
		{"time limit", func(rn *Run) { time.Sleep(2 * time.Second) }},
		{"shutdown", func(rn *Run) { rn.shutdown() }},
	}
	writes := []struct {
		name  string
		write func(w http.ResponseWriter)
	}{
		{"Write", func(w http.ResponseWriter) { _, _ = w.Write([]byte("b")) }},
		{"WriteString", func(w http.ResponseWriter) { _, _ = io.WriteString(w, "b") }},
	}
	for _, st := range stops {
		for _, wr := range writes {
			t.Run(st.name+"/"+wr.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					p, err := NewPool(WithTimeLimit(time.Second))
					if err != nil {
						t.Fatal(err)
					}
					var got any
					h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						rn, _ := FromContext(r.Context())
						wr.write(w) // the one-look path
						st.stop(rn)
						defer func() {
							got = recover()
							panic(got)
						}()
						wr.write(w)
					}))
					func() {
						// A response cut short after an abort ends with
						// net/http's ErrAbortHandler.
						defer func() {
							if v := recover(); v != nil && v != http.ErrAbortHandler {
								panic(v)
							}
						}()
						h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
					}()
					if err, _ := got.(error); !errors.Is(err, ErrTerminated) {
						t.Errorf("the write after the stop panicked with %v, want ErrTerminated", got)
					}
					if err := p.Shutdown(t.Context()); err != nil {
						t.Fatal(err)
					}
				})
			})
		}
	}
}
