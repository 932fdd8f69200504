package lifeline_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/cstest"
)

// nopWriter is a minimal ResponseWriter, so the benchmarks measure the
// middleware and not a recorder.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(int)             {}
func (w *nopWriter) Flush()                      {}

var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, "Hello, world!\n")
})

// BenchmarkOverhead compares a hello-world handler called bare, as net/http
// would, with the same handler through Lifeline, side by side in one run:
// the difference is Lifeline's per-request cost (goal: ≤ 1 µs, ≤ 2 allocations more than bare).
func BenchmarkOverhead(b *testing.B) {
	p, _ := lifeline.NewPool()
	defer p.Shutdown(context.Background())
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"bare", hello}, {"lifeline", p.Middleware()(hello)}} {
		b.Run(c.name, func(b *testing.B) { serveDirect(b, c.h) })
		b.Run(c.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest("GET", "/", nil)
				w := &nopWriter{h: make(http.Header)}
				for pb.Next() {
					clear(w.h)
					c.h.ServeHTTP(w, r)
				}
			})
		})
	}
}

// serveDirect calls h as net/http would, once per iteration, with one
// request and a ResponseWriter that keeps nothing.
func serveDirect(b *testing.B, h http.Handler) {
	r := httptest.NewRequest("GET", "/", nil)
	w := &nopWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

// BenchmarkOverhead4K is BenchmarkOverhead with P1's "4 KB in 100 writes"
// handler: the per-write cost of the run's ResponseWriter and output stack.
func BenchmarkOverhead4K(b *testing.B) {
	p, _ := lifeline.NewPool()
	defer p.Shutdown(context.Background())
	h4k := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 100 {
			w.Write(chunk41)
		}
	})
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"bare", h4k}, {"lifeline", p.Middleware()(h4k)}} {
		b.Run(c.name, func(b *testing.B) { serveDirect(b, c.h) })
	}
}

// BenchmarkServer is BenchmarkOverhead through a real server: hello-world
// requests one after the other from a client in the same process over
// loopback, HTTP/1.1 keep-alive and h2c, bare and through Lifeline with
// ConfigureServer. The client's share is the same in both; compare the
// instructions per request (callgrind) rather than the time on a busy
// machine.
func BenchmarkServer(b *testing.B) { benchServer(b, hello) }

// chunk41 is one of the 100 writes of BenchmarkServer4K's body.
var chunk41 = []byte(strings.Repeat("x", 40) + "\n")

// BenchmarkServer4K is BenchmarkServer with a 4,100-byte body written in
// 100 writes of 41 bytes (P1's "4 KB in 100 writes" workload).
func BenchmarkServer4K(b *testing.B) {
	benchServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 100 {
			w.Write(chunk41)
		}
	}))
}

func benchServer(b *testing.B, handler http.Handler) {
	for _, mode := range []cstest.Mode{cstest.H1, cstest.H2C} {
		for _, name := range []string{"bare", "lifeline"} {
			b.Run(string(mode)+"/"+name, func(b *testing.B) {
				h, configure := handler, func(*http.Server) {}
				if name == "lifeline" {
					p, _ := lifeline.NewPool()
					defer p.Shutdown(context.Background())
					h, configure = p.Middleware()(handler), p.ConfigureServer
				}
				srv := cstest.Start(b, mode, h, configure)
				b.ReportAllocs()
				for b.Loop() {
					res, err := srv.Client.Get(srv.URL)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, res.Body); err != nil {
						b.Fatal(err)
					}
					res.Body.Close()
				}
			})
		}
	}
}

// BenchmarkAbortDetection measures the time from the client's close (FIN),
// reset (RST), close with an unread POST body, or HTTP/2 stream reset, to
// the run's context being cancelled, over real loopback sockets, and reports
// p50 and p99 (goal: p99 ≤ 1 ms).
func BenchmarkAbortDetection(b *testing.B) {
	cases := []struct {
		name  string
		mode  cstest.Mode
		req   string
		reset bool
	}{
		{"fin", cstest.H1, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"rst", cstest.H1, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
		{"unread-post-fin", cstest.H1, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10000\r\n\r\n" + strings.Repeat("b", 1000), false},
		{"h2-reset", cstest.H2C, "", false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			p, _ := lifeline.NewPool()
			started := make(chan struct{}, 1)
			detected := make(chan time.Time, 1)
			h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				started <- struct{}{}
				<-r.Context().Done()
				detected <- time.Now()
			}))
			srv := cstest.Start(b, c.mode, h, p.ConfigureServer)
			defer p.Shutdown(context.Background())
			var lat []time.Duration
			for b.Loop() {
				var closed time.Time
				if c.mode == cstest.H2C {
					ctx, cancel := context.WithCancel(context.Background())
					go func() {
						req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
						if res, err := srv.Client.Do(req); err == nil {
							res.Body.Close()
						}
					}()
					<-started
					closed = time.Now()
					cancel()
				} else {
					conn, err := net.Dial("tcp", srv.Listener.Addr().String())
					if err != nil {
						b.Fatal(err)
					}
					io.WriteString(conn, c.req)
					<-started
					if c.reset {
						conn.(*net.TCPConn).SetLinger(0)
					}
					closed = time.Now()
					conn.Close()
				}
				lat = append(lat, (<-detected).Sub(closed))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
		})
	}
}

func ExamplePool_Stats() {
	pool, _ := lifeline.NewPool()
	h := pool.Middleware()(hello)
	for i := 0; i < 3; i++ {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	pool.Shutdown(context.Background())
	s := pool.Stats()
	fmt.Println(s.Accepted, s.ByStatus[0])
	// Output: 3 3
}
