package compress

import (
	"bytes"
	stdgzip "compress/gzip"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Benchmarks of the handler's compression speed against the standard
// library's compress/gzip, on deterministic HTML and JSON (see
// helpers_test.go). Each reports MB/s of uncompressed input, the
// compressed size ("cbytes") and the ratio compressed/input ("ratio").
// The command and figures are in docs/bench/compress.md.

// benchPayloads are the bodies compressed, by name.
func benchPayloads(sizes ...int) []struct {
	name string
	data []byte
} {
	var p []struct {
		name string
		data []byte
	}
	for _, n := range sizes {
		p = append(p,
			struct {
				name string
				data []byte
			}{fmt.Sprintf("html-%dK", n>>10), htmlPage(n)},
			struct {
				name string
				data []byte
			}{fmt.Sprintf("json-%dK", n>>10), jsonDoc(n)})
	}
	return p
}

// compressor is one way of compressing a whole body, reusing its state
// between calls as a server would.
type benchCompressor interface {
	compress(b []byte) []byte
}

// stdGzip is the baseline: compress/gzip with a reused Writer and buffer.
type stdGzip struct {
	w   *stdgzip.Writer
	buf bytes.Buffer
}

func newStdGzip(level int) *stdGzip {
	s := &stdGzip{}
	s.w, _ = stdgzip.NewWriterLevel(&s.buf, level)
	return s
}

func (s *stdGzip) compress(b []byte) []byte {
	s.buf.Reset()
	s.w.Reset(&s.buf)
	s.w.Write(b)
	s.w.Close()
	return s.buf.Bytes()
}

// ourHandler runs the whole output handler path: negotiation, the skip
// rules, the headers, and the compression of a body known at once.
type ourHandler struct {
	c  *Compressor
	r  *http.Request
	st *fakeResponse
}

func newOurHandler(tb testing.TB, enc string, opts ...Option) *ourHandler {
	c, err := New(append([]Option{WithEncodings(enc)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	return &ourHandler{c: c, r: r, st: newFakeResponse()}
}

func (o *ourHandler) compress(b []byte) []byte {
	clear(o.st.header)
	o.st.header["Content-Type"] = []string{"text/html; charset=utf-8"}
	out, err := o.c.newHandler(o.st, o.r).Handle(b, start|final)
	if err != nil {
		panic(err)
	}
	return out
}

func reportSize(b *testing.B, in, out int) {
	b.ReportMetric(float64(out), "cbytes")
	b.ReportMetric(float64(out)/float64(in), "ratio")
}

// BenchmarkCompress compares, serially, the standard library's gzip with
// the handler's gzip at the same level (1, the default 5, and 6), and shows
// zstd and brotli at their defaults (3 and 4) and one faster level each.
func BenchmarkCompress(b *testing.B) {
	impls := []struct {
		name string
		new  func(testing.TB) benchCompressor
	}{
		{"stdlib-gzip-1", func(testing.TB) benchCompressor { return newStdGzip(1) }},
		{"gzip-1", func(tb testing.TB) benchCompressor { return newOurHandler(tb, encGzip, WithGzipLevel(1)) }},
		{"stdlib-gzip-5", func(testing.TB) benchCompressor { return newStdGzip(5) }},
		{"gzip-5", func(tb testing.TB) benchCompressor { return newOurHandler(tb, encGzip) }},
		{"stdlib-gzip-6", func(testing.TB) benchCompressor { return newStdGzip(6) }},
		{"gzip-6", func(tb testing.TB) benchCompressor { return newOurHandler(tb, encGzip, WithGzipLevel(6)) }},
		{"zstd-1", func(tb testing.TB) benchCompressor { return newOurHandler(tb, encZstd, WithZstdLevel(1)) }},
		{"zstd-3", func(tb testing.TB) benchCompressor { return newOurHandler(tb, encZstd) }},
		{"br-2", func(tb testing.TB) benchCompressor { return newOurHandler(tb, encBrotli, WithBrotliLevel(2)) }},
		{"br-4", func(tb testing.TB) benchCompressor { return newOurHandler(tb, encBrotli) }},
	}
	for _, p := range benchPayloads(4<<10, 64<<10, 1<<20) {
		for _, impl := range impls {
			b.Run(p.name+"/"+impl.name, func(b *testing.B) {
				c := impl.new(b)
				n := len(c.compress(p.data))
				b.SetBytes(int64(len(p.data)))
				b.ReportAllocs()
				for b.Loop() {
					c.compress(p.data)
				}
				reportSize(b, len(p.data), n)
			})
		}
	}
}

// BenchmarkCompressParallel is BenchmarkCompress's 64 KiB HTML case run
// from GOMAXPROCS goroutines sharing one Compressor (and its pools).
func BenchmarkCompressParallel(b *testing.B) {
	data := htmlPage(64 << 10)
	for _, enc := range []string{"stdlib-gzip-5", encGzip, encZstd, encBrotli} {
		b.Run(enc, func(b *testing.B) {
			c, err := New(WithEncodings(orGzip(enc)))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var bc benchCompressor
				if enc == "stdlib-gzip-5" {
					bc = newStdGzip(DefaultGzipLevel)
				} else {
					o := newOurHandler(b, enc)
					o.c = c
					bc = o
				}
				for pb.Next() {
					bc.compress(data)
				}
			})
		})
	}
}

func orGzip(enc string) string {
	if enc == "stdlib-gzip-5" {
		return encGzip
	}
	return enc
}

// BenchmarkGzipSpeedup runs the standard library and the handler on the
// same body in the same loop, alternating, and reports the ratio of their
// times as "speedup" (higher is better for the handler).
func BenchmarkGzipSpeedup(b *testing.B) {
	for _, level := range []int{1, DefaultGzipLevel, 6, 9} {
		for _, p := range benchPayloads(64 << 10) {
			b.Run(fmt.Sprintf("level-%d/%s", level, p.name), func(b *testing.B) {
				std, ours := newStdGzip(level), newOurHandler(b, encGzip, WithGzipLevel(level))
				stdSize, ourSize := len(std.compress(p.data)), len(ours.compress(p.data))
				var stdTime, ourTime time.Duration
				b.SetBytes(int64(2 * len(p.data)))
				for b.Loop() {
					t0 := time.Now()
					std.compress(p.data)
					t1 := time.Now()
					ours.compress(p.data)
					stdTime += t1.Sub(t0)
					ourTime += time.Since(t1)
				}
				b.ReportMetric(float64(stdTime)/float64(ourTime), "speedup")
				b.ReportMetric(float64(len(p.data))/stdTime.Seconds()*float64(b.N)/1e6, "std-MB/s")
				b.ReportMetric(float64(len(p.data))/ourTime.Seconds()*float64(b.N)/1e6, "our-MB/s")
				b.ReportMetric(float64(ourSize)/float64(stdSize), "size-vs-std")
			})
		}
	}
}

// BenchmarkStream measures the streaming path: a 64 KiB body written in
// 4 KiB chunks with a flush after each (the SSE pattern, the worst case for
// ratio), against the standard library doing the same.
func BenchmarkStream(b *testing.B) {
	data := htmlPage(64 << 10)
	const chunk = 4 << 10
	b.Run("stdlib-gzip-5", func(b *testing.B) {
		s := newStdGzip(DefaultGzipLevel)
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			s.buf.Reset()
			s.w.Reset(&s.buf)
			for i := 0; i < len(data); i += chunk {
				s.w.Write(data[i:min(i+chunk, len(data))])
				s.w.Flush()
			}
			s.w.Close()
			n = s.buf.Len()
		}
		reportSize(b, len(data), n)
	})
	for _, enc := range allEncodings {
		b.Run(enc, func(b *testing.B) {
			o := newOurHandler(b, enc)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				clear(o.st.header)
				o.st.header["Content-Type"] = []string{"text/event-stream"}
				h := o.c.newHandler(o.st, o.r)
				n = 0
				phase := start | flush
				for i := 0; i < len(data); i += chunk {
					out, err := h.Handle(data[i:min(i+chunk, len(data))], phase)
					if err != nil {
						b.Fatal(err)
					}
					n += len(out)
					phase = flush
				}
				out, _ := h.Handle(nil, final)
				n += len(out)
			}
			reportSize(b, len(data), n)
		})
	}
}

// BenchmarkNegotiate measures the per-request cost of choosing a coding
// from a browser's Accept-Encoding.
func BenchmarkNegotiate(b *testing.B) {
	supported := []string{encZstd, encBrotli, encGzip}
	for _, ae := range []string{"gzip, deflate, br, zstd", "br;q=1.0, gzip;q=0.8, *;q=0.1"} {
		b.Run(ae, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Negotiate(ae, supported)
			}
		})
	}
}

// BenchmarkColdEncoder measures what the first response of an encoding
// costs when its pool is empty (at start, or after the garbage collector
// emptied it): B/op is about the memory one pooled encoder keeps.
func BenchmarkColdEncoder(b *testing.B) {
	data := htmlPage(64 << 10)
	for _, enc := range allEncodings {
		b.Run(enc, func(b *testing.B) {
			o := newOurHandler(b, enc)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				for _, cd := range o.c.codecs {
					cd.pool = sync.Pool{New: cd.pool.New} // empty
				}
				o.compress(data)
			}
		})
	}
}
