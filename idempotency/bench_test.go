package idempotency_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/idempotency/redisstore"
	"github.com/lifeline-go/lifeline/internal/redistest"
)

// discardWriter is a reusable ResponseWriter that keeps nothing, so that
// the benchmark measures the middleware, not a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// benchBody is a request body that can be rewound without allocating.
type benchBody struct{ *bytes.Reader }

func (benchBody) Close() error { return nil }

// benchCase is one request/response shape; newRequest gives a request
// whose key is key(i) and whose body is rewound on each call.
type benchCase struct {
	reqBody, respBody []byte
	req               *http.Request
	body              benchBody
	w                 discardWriter
}

func newBenchCase(reqSize, respSize int) *benchCase {
	c := &benchCase{
		reqBody:  bytes.Repeat([]byte("q"), reqSize),
		respBody: bytes.Repeat([]byte("r"), respSize),
		w:        discardWriter{h: http.Header{}},
	}
	c.body = benchBody{bytes.NewReader(nil)}
	c.req, _ = http.NewRequest(http.MethodPost, "http://shop/orders", nil)
	return c
}

func (c *benchCase) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(c.respBody)
	})
}

// serve runs h on the case's request with key.
func (c *benchCase) serve(h http.Handler, key string) {
	c.body.Reset(c.reqBody)
	c.req.Body = c.body
	c.req.ContentLength = int64(len(c.reqBody))
	c.req.Header["Idempotency-Key"] = []string{key}
	clear(c.w.h)
	h.ServeHTTP(&c.w, c.req)
}

// sideBySide times bare and protected calls interleaved in blocks, so both
// see the same machine state, and reports each, the overhead and the ratio.
func sideBySide(b *testing.B, bare, protected func(i int)) {
	b.Helper()
	const block = 32
	bareAllocs := testing.AllocsPerRun(100, func() { bare(0) })
	i := -1_000_000 // keys of their own, never reached by the timed loop
	protAllocs := testing.AllocsPerRun(100, func() { i++; protected(i) })
	var tBare, tProt time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n += block {
		m := min(block, b.N-n)
		start := time.Now()
		for j := range m {
			bare(n + j)
		}
		mid := time.Now()
		for j := range m {
			protected(n + j)
		}
		tBare += mid.Sub(start)
		tProt += time.Since(mid)
	}
	bareNs := float64(tBare.Nanoseconds()) / float64(b.N)
	protNs := float64(tProt.Nanoseconds()) / float64(b.N)
	b.ReportMetric(bareNs, "bare-ns/op")
	b.ReportMetric(protNs, "protected-ns/op")
	b.ReportMetric(protNs-bareNs, "overhead-ns/op")
	b.ReportMetric(protNs/bareNs, "x-bare")
	b.ReportMetric(bareAllocs, "bare-allocs/op")
	b.ReportMetric(protAllocs, "protected-allocs/op")
}

// BenchmarkOverhead measures a protected request against the same request
// to the bare handler, with the memory and the Redis store: "first" runs
// the handler under a new key (reserve, record, complete), "replay" answers
// from the store. Run with:
//
//	go test -run '^$' -bench Overhead -benchtime 2s ./idempotency/
func BenchmarkOverhead(b *testing.B) {
	srv := redistest.Start(b)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	b.Cleanup(func() { _ = client.Close() })
	stores := []struct {
		name string
		new  func(b *testing.B) idempotency.Store
	}{
		{"memstore", func(b *testing.B) idempotency.Store { return newMem(b) }},
		{"redisstore", func(b *testing.B) idempotency.Store {
			if err := client.FlushDB(context.Background()).Err(); err != nil {
				b.Fatal(err)
			}
			s, err := redisstore.New(client)
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	for _, st := range stores {
		for _, size := range []int{256, 16 << 10} {
			for _, path := range []string{"first", "replay"} {
				b.Run(fmt.Sprintf("%s/resp=%d/%s", st.name, size, path), func(b *testing.B) {
					c := newBenchCase(256, size)
					bare := c.handler()
					protected := newMiddleware(b, st.new(b)).Handler(bare)
					if path == "replay" {
						c.serve(protected, "replayed")
						sideBySide(b,
							func(int) { c.serve(bare, "replayed") },
							func(int) { c.serve(protected, "replayed") })
						return
					}
					// A fresh key per call, formatted on both sides alike.
					// The store is replaced (Redis flushed) every 4096 keys to
					// bound memory.
					sideBySide(b,
						func(i int) { c.serve(bare, strconv.Itoa(i)) },
						func(i int) {
							if i > 0 && i%4096 == 0 {
								protected = newMiddleware(b, st.new(b)).Handler(bare)
							}
							c.serve(protected, strconv.Itoa(i))
						})
				})
			}
		}
	}
}

// BenchmarkParallel runs the bare handler and the memstore-protected one
// from all Ps, each request with a new key, side by side.
func BenchmarkParallel(b *testing.B) {
	for _, protected := range []bool{false, true} {
		b.Run(fmt.Sprintf("protected=%v", protected), func(b *testing.B) {
			proto := newBenchCase(256, 256)
			h := proto.handler()
			if protected {
				h = newMiddleware(b, newMem(b)).Handler(h)
			}
			b.ReportAllocs()
			var worker atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				c := newBenchCase(256, 256)
				prefix := strconv.FormatInt(worker.Add(1), 10) + "-"
				for i := 0; pb.Next(); i++ {
					c.serve(h, prefix+strconv.Itoa(i))
				}
			})
		})
	}
}

// BenchmarkOverHTTP is the end-to-end view: POSTs over a loopback HTTP/1.1
// keep-alive connection to a bare server and to a protected one, side by
// side, each request with a new key.
func BenchmarkOverHTTP(b *testing.B) {
	srv := redistest.Start(b)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	b.Cleanup(func() { _ = client.Close() })
	rs, err := redisstore.New(client)
	if err != nil {
		b.Fatal(err)
	}
	for _, st := range []struct {
		name  string
		store idempotency.Store
	}{{"memstore", newMem(b)}, {"redisstore", rs}} {
		b.Run(st.name, func(b *testing.B) {
			c := newBenchCase(256, 256)
			bare := httptest.NewServer(c.handler())
			defer bare.Close()
			protected := httptest.NewServer(newMiddleware(b, st.store).Handler(c.handler()))
			defer protected.Close()
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			defer hc.CloseIdleConnections()
			prefix := strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
			do := func(ts *httptest.Server, key string) {
				req, _ := http.NewRequest(http.MethodPost, ts.URL+"/orders", bytes.NewReader(c.reqBody))
				req.Header.Set("Idempotency-Key", key)
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			sideBySide(b,
				func(i int) { do(bare, prefix+strconv.Itoa(i)) },
				func(i int) { do(protected, prefix+strconv.Itoa(i)) })
		})
	}
}
