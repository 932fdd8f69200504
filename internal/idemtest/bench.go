package idemtest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/idempotency"
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

// BenchCase is one request/response shape for benchmarks: a POST with a
// request body of one size answered with a body of another. It is used by
// one goroutine at a time.
type BenchCase struct {
	reqBody, respBody []byte
	req               *http.Request
	body              benchBody
	w                 discardWriter
}

// NewBenchCase returns a case whose request body has reqSize bytes and
// whose handler answers respSize bytes.
func NewBenchCase(reqSize, respSize int) *BenchCase {
	c := &BenchCase{
		reqBody:  bytes.Repeat([]byte("q"), reqSize),
		respBody: bytes.Repeat([]byte("r"), respSize),
		w:        discardWriter{h: http.Header{}},
	}
	c.body = benchBody{bytes.NewReader(nil)}
	c.req, _ = http.NewRequest(http.MethodPost, "http://shop/orders", nil)
	return c
}

// Handler returns the bare handler: 201 with the case's response body.
func (c *BenchCase) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(c.respBody)
	})
}

// Serve runs h on the case's request, its body rewound, with key.
func (c *BenchCase) Serve(h http.Handler, key string) {
	c.body.Reset(c.reqBody)
	c.req.Body = c.body
	c.req.ContentLength = int64(len(c.reqBody))
	c.req.Header["Idempotency-Key"] = []string{key}
	clear(c.w.h)
	h.ServeHTTP(&c.w, c.req)
}

// SideBySide times bare and protected calls interleaved in blocks, so both
// see the same machine state, and reports each, the overhead and the ratio.
func SideBySide(b *testing.B, bare, protected func(i int)) {
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

// BenchOverhead measures a protected request against the same request to
// the bare handler, on stores from newStore, in sub-benchmarks
// resp=<size>/<path>: "first" runs the handler under a new key (reserve,
// record, complete), "replay" answers from the store. newStore is called
// again every 4096 new keys (it must return an empty store) to bound
// memory.
func BenchOverhead(b *testing.B, newStore func(b *testing.B) idempotency.Store) {
	for _, size := range []int{256, 16 << 10} {
		for _, path := range []string{"first", "replay"} {
			b.Run(fmt.Sprintf("resp=%d/%s", size, path), func(b *testing.B) {
				c := NewBenchCase(256, size)
				bare := c.Handler()
				protected := NewMiddleware(b, newStore(b)).Handler(bare)
				if path == "replay" {
					c.Serve(protected, "replayed")
					SideBySide(b,
						func(int) { c.Serve(bare, "replayed") },
						func(int) { c.Serve(protected, "replayed") })
					return
				}
				// A fresh key per call, formatted on both sides alike.
				SideBySide(b,
					func(i int) { c.Serve(bare, strconv.Itoa(i)) },
					func(i int) {
						if i > 0 && i%4096 == 0 {
							protected = NewMiddleware(b, newStore(b)).Handler(bare)
						}
						c.Serve(protected, strconv.Itoa(i))
					})
			})
		}
	}
}

// BenchOverHTTP is the end-to-end view: POSTs over a loopback HTTP/1.1
// keep-alive connection to a bare server and to one protected with store,
// side by side, each request with a new key.
func BenchOverHTTP(b *testing.B, store idempotency.Store) {
	c := NewBenchCase(256, 256)
	bare := httptest.NewServer(c.Handler())
	defer bare.Close()
	protected := httptest.NewServer(NewMiddleware(b, store).Handler(c.Handler()))
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
	SideBySide(b,
		func(i int) { do(bare, prefix+strconv.Itoa(i)) },
		func(i int) { do(protected, prefix+strconv.Itoa(i)) })
}
