package output_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/lifeline-go/lifeline/output"
)

// benchBody is the size of one response in the write benchmarks.
const benchBody = 64 << 10

// countSink is a Sink that discards everything but counts it, so the writes
// cannot be optimised away.
type countSink struct{ n int }

func (c *countSink) WriteHeader(int, http.Header) error { return nil }
func (c *countSink) Write(p []byte) (int, error)        { c.n += len(p); return len(p), nil }
func (c *countSink) Flush() error                       { return nil }

// BenchmarkWrite measures one 64 KiB response written in pieces of 16 B,
// 512 B and 8 KiB. "stack" is the Lifeline path: a pooled Stack reset for
// the response, a 4096-byte base buffer (PHP's output_buffering default),
// the writes, and EndAll. "stack-nobuf" is the same without the base buffer.
// The baselines write the same pieces straight to a discarding Sink
// ("direct") and into a reused bytes.Buffer ("bytes.Buffer").
func BenchmarkWrite(b *testing.B) {
	for _, size := range []int{16, 512, 8 << 10} {
		chunk := bytes.Repeat([]byte("x"), size)
		n := benchBody / size
		b.Run(fmt.Sprintf("size=%d/stack", size), func(b *testing.B) {
			sink := &countSink{}
			s := output.NewStack(sink)
			b.SetBytes(benchBody)
			b.ReportAllocs()
			for b.Loop() {
				s.Reset(sink)
				_ = s.Start(nil, 4096, output.StdFlags)
				for range n {
					_, _ = s.Write(chunk)
				}
				_ = s.EndAll()
			}
		})
		b.Run(fmt.Sprintf("size=%d/stack-nobuf", size), func(b *testing.B) {
			sink := &countSink{}
			s := output.NewStack(sink)
			b.SetBytes(benchBody)
			b.ReportAllocs()
			for b.Loop() {
				s.Reset(sink)
				for range n {
					_, _ = s.Write(chunk)
				}
				_ = s.EndAll()
			}
		})
		b.Run(fmt.Sprintf("size=%d/direct", size), func(b *testing.B) {
			var sink output.Sink = &countSink{}
			b.SetBytes(benchBody)
			b.ReportAllocs()
			for b.Loop() {
				for range n {
					_, _ = sink.Write(chunk)
				}
			}
		})
		b.Run(fmt.Sprintf("size=%d/bytes.Buffer", size), func(b *testing.B) {
			var buf bytes.Buffer
			b.SetBytes(benchBody)
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				for range n {
					buf.Write(chunk)
				}
			}
		})
	}
}

// BenchmarkWriteParallel is the "stack" and "bytes.Buffer" cases of
// BenchmarkWrite on every P, one Stack per goroutine as in a server.
func BenchmarkWriteParallel(b *testing.B) {
	for _, size := range []int{16, 512, 8 << 10} {
		chunk := bytes.Repeat([]byte("x"), size)
		n := benchBody / size
		b.Run(fmt.Sprintf("size=%d/stack", size), func(b *testing.B) {
			b.SetBytes(benchBody)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				sink := &countSink{}
				s := output.NewStack(sink)
				for pb.Next() {
					s.Reset(sink)
					_ = s.Start(nil, 4096, output.StdFlags)
					for range n {
						_, _ = s.Write(chunk)
					}
					_ = s.EndAll()
				}
			})
		})
		b.Run(fmt.Sprintf("size=%d/bytes.Buffer", size), func(b *testing.B) {
			b.SetBytes(benchBody)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var buf bytes.Buffer
				for pb.Next() {
					buf.Reset()
					for range n {
						buf.Write(chunk)
					}
				}
			})
		})
	}
}

// BenchmarkSmallResponse measures a whole small response (one 100-byte
// write) through a reset pooled Stack: the per-request overhead of the
// output layer. "stack" buffers it and EndAll sets Content-Length;
// "stack-nobuf" sends the header with the write; "direct" hands the same
// header and body to a discarding Sink.
func BenchmarkSmallResponse(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 100)
	b.Run("stack", func(b *testing.B) {
		sink := &countSink{}
		s := output.NewStack(sink)
		b.ReportAllocs()
		for b.Loop() {
			s.Reset(sink)
			_ = s.Start(nil, 4096, output.StdFlags)
			_, _ = s.Write(body)
			_ = s.EndAll()
		}
	})
	b.Run("stack-nobuf", func(b *testing.B) {
		// The header goes out with the write, which records where the
		// output started (HeadersSentAt): the cost of that caller lookup.
		sink := &countSink{}
		s := output.NewStack(sink)
		b.ReportAllocs()
		for b.Loop() {
			s.Reset(sink)
			_, _ = s.Write(body)
			_ = s.EndAll()
		}
	})
	b.Run("direct", func(b *testing.B) {
		var sink output.Sink = &countSink{}
		h := make(http.Header)
		b.ReportAllocs()
		for b.Loop() {
			_ = sink.WriteHeader(200, h)
			_, _ = sink.Write(body)
		}
	})
}
