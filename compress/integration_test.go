package compress_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/compress"
	"github.com/lifeline-go/lifeline/internal/cstest"
	"github.com/lifeline-go/lifeline/output"
)

// Tests through a real Lifeline run on a real server, in HTTP/1.1, HTTP/2
// and h2c.

func newPool(t *testing.T) *lifeline.Pool {
	t.Helper()
	p, err := lifeline.NewPool(lifeline.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return p
}

func newCompressor(t *testing.T, opts ...compress.Option) *compress.Compressor {
	t.Helper()
	c, err := compress.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// get sends a GET with an explicit Accept-Encoding, so that the client's
// transport leaves the body as the server sent it.
func get(t *testing.T, srv *cstest.Server, ae string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept-Encoding", ae)
	res, err := srv.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func TestRunMiddleware(t *testing.T) {
	body := page(20 << 10)
	cstest.Run(t, func(t *testing.T, m cstest.Mode) {
		p, c := newPool(t), newCompressor(t)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, body)
		})
		srv := cstest.Start(t, m, p.Middleware()(c.Handler(h)), p.ConfigureServer)
		for _, enc := range encodings {
			res := get(t, srv, enc)
			raw, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Header.Get("Content-Encoding"); got != enc {
				t.Errorf("%s: Content-Encoding = %q", enc, got)
			}
			if res.ContentLength != int64(len(raw)) {
				t.Errorf("%s: Content-Length = %d, want %d", enc, res.ContentLength, len(raw))
			}
			if got := decodeAll(t, enc, raw); got != body {
				t.Errorf("%s: decoded %d bytes, want %d", enc, len(got), len(body))
			}
		}
	})
}

// TestRunFinish: the seed recipe "close connection early", the Lifeline
// way. The handler buffers its answer, sets Content-Length to the
// uncompressed length as the recipe does, and calls Finish: the client has
// the whole compressed answer, with its exact length, while the run is
// still working.
func TestRunFinish(t *testing.T) {
	body := page(10 << 10)
	cstest.Run(t, func(t *testing.T, m cstest.Mode) {
		p, c := newPool(t), newCompressor(t)
		release, done := make(chan struct{}), make(chan error, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn, _ := lifeline.FromContext(r.Context())
			rn.Output().Start(nil, 0, output.StdFlags) // ob_start()
			io.WriteString(w, body)
			n, _ := rn.Output().Length()
			w.Header().Set("Content-Length", strconv.Itoa(n))
			done <- rn.Finish()
			<-release
			io.WriteString(w, "discarded")
		})
		srv := cstest.Start(t, m, p.Middleware()(c.Handler(h)), p.ConfigureServer)
		defer close(release)
		res := get(t, srv, "gzip")
		raw, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Finish: %v", err)
		}
		if res.ContentLength != int64(len(raw)) || len(raw) >= len(body) {
			t.Errorf("Content-Length = %d, read %d bytes; want the compressed length (uncompressed %d)",
				res.ContentLength, len(raw), len(body))
		}
		if got := decodeAll(t, "gzip", raw); got != body {
			t.Errorf("decoded %d bytes, want %d", len(got), len(body))
		}
	})
}

// TestRunStreaming: a handler flushing through http.ResponseController
// (server-sent events) gets each event to the client, decodable, before it
// writes the next one.
func TestRunStreaming(t *testing.T) {
	first, second := "data: first\n\n", "data: "+page(8<<10)+"\n\n"
	cstest.Run(t, func(t *testing.T, m cstest.Mode) {
		p, c := newPool(t), newCompressor(t)
		for _, enc := range encodings {
			t.Run(enc, func(t *testing.T) {
				next := make(chan struct{})
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/event-stream")
					io.WriteString(w, first)
					if err := http.NewResponseController(w).Flush(); err != nil {
						t.Errorf("Flush: %v", err)
					}
					<-next
					io.WriteString(w, second)
				})
				srv := cstest.Start(t, m, p.Middleware()(c.Handler(h)), p.ConfigureServer)
				srv.Client.Timeout = 10 * time.Second // a stuck first event fails sooner
				res := get(t, srv, enc)
				if got := res.Header.Get("Content-Encoding"); got != enc {
					close(next)
					t.Fatalf("Content-Encoding = %q, want %q", got, enc)
				}
				dec := newDecoder(t, enc, res.Body)
				got := make([]byte, len(first))
				_, err := io.ReadFull(dec, got)
				close(next) // only now may the handler write the second event
				if err != nil || string(got) != first {
					t.Fatalf("first event: %q, %v", got, err)
				}
				rest, err := io.ReadAll(dec)
				if err != nil || string(rest) != second {
					t.Errorf("second event: %d bytes, %v; want %d", len(rest), err, len(second))
				}
			})
		}
	})
}

// TestHandlerOutsideRun: without a Lifeline run there is no output stack;
// the middleware serves the response as it is.
func TestHandlerOutsideRun(t *testing.T) {
	c := newCompressor(t)
	body := page(4 << 10)
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Accept-Encoding", "gzip")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if got := w.Header().Get("Content-Encoding"); got != "" {
		t.Errorf("Content-Encoding = %q outside a run", got)
	}
	if w.Body.String() != body {
		t.Error("body changed outside a run")
	}
}
