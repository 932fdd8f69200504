package lifeline_test

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/cstest"
)

// TestHeadersSentAtThroughPool checks that HeadersSentAt names the
// handler's statement that sent the header when the handler runs in a
// pool behind a real server: only library frames (net/http's, Lifeline's)
// lie outside the handler, so the frame-pointer walk is kept only if it
// finds the handler's frame, including where the Stack's FlushClient is
// inlined into the handler.
func TestHeadersSentAtThroughPool(t *testing.T) {
	shapes := []struct {
		name string
		send func(w http.ResponseWriter, rn *lifeline.Run) int // sends the header, returns the statement's line
	}{
		{"ResponseController.Flush", func(w http.ResponseWriter, _ *lifeline.Run) int {
			_, _ = io.WriteString(w, "x")
			_ = http.NewResponseController(w).Flush()
			_, _, line, _ := runtime.Caller(0)
			return line - 1
		}},
		{"Flusher", func(w http.ResponseWriter, _ *lifeline.Run) int {
			fmt.Fprint(w, "x")
			w.(http.Flusher).Flush()
			_, _, line, _ := runtime.Caller(0)
			return line - 1
		}},
		{"Stack.FlushClient", func(_ http.ResponseWriter, rn *lifeline.Run) int {
			_ = rn.Output().FlushClient()
			_, _, line, _ := runtime.Caller(0)
			return line - 1
		}},
	}
	for _, tt := range shapes {
		t.Run(tt.name, func(t *testing.T) {
			p := newPool(t)
			type result struct {
				file       string
				line, want int
				ok         bool
			}
			got := make(chan result, 1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rn, _ := lifeline.FromContext(r.Context())
				want := tt.send(w, rn)
				file, line, ok := rn.Output().HeadersSentAt()
				got <- result{file, line, want, ok}
			})
			srv := cstest.Start(t, cstest.H1, p.Middleware()(h), p.ConfigureServer)
			resp, err := srv.Client.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			r := <-got
			if !r.ok || filepath.Base(r.file) != "adversary_sentat_test.go" || r.line != r.want {
				t.Errorf("HeadersSentAt() = %s:%d, %v; want adversary_sentat_test.go:%d, true", r.file, r.line, r.ok, r.want)
			}
		})
	}
}
