package idempotency_test

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/internal/idemtest"
)

// BenchmarkOverhead measures a protected request against the same request
// to the bare handler, with the memory store: "first" runs the handler
// under a new key (reserve, record, complete), "replay" answers from the
// store. The Redis store's figures come from the same benchmark in module
// idempotency/redisstore. Run with:
//
//	go test -run '^$' -bench Overhead -benchtime 2s ./idempotency/
func BenchmarkOverhead(b *testing.B) {
	b.Run("memstore", func(b *testing.B) {
		idemtest.BenchOverhead(b, func(b *testing.B) idempotency.Store { return newMem(b) })
	})
}

// BenchmarkParallel runs the bare handler and the memstore-protected one
// from all Ps, each request with a new key, side by side.
func BenchmarkParallel(b *testing.B) {
	for _, protected := range []bool{false, true} {
		b.Run(fmt.Sprintf("protected=%v", protected), func(b *testing.B) {
			proto := idemtest.NewBenchCase(256, 256)
			h := proto.Handler()
			if protected {
				h = idemtest.NewMiddleware(b, newMem(b)).Handler(h)
			}
			b.ReportAllocs()
			var worker atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				c := idemtest.NewBenchCase(256, 256)
				prefix := strconv.FormatInt(worker.Add(1), 10) + "-"
				for i := 0; pb.Next(); i++ {
					c.Serve(h, prefix+strconv.Itoa(i))
				}
			})
		})
	}
}

// BenchmarkOverHTTP is the end-to-end view: POSTs over a loopback HTTP/1.1
// keep-alive connection to a bare server and to a memstore-protected one,
// side by side, each request with a new key.
func BenchmarkOverHTTP(b *testing.B) {
	b.Run("memstore", func(b *testing.B) { idemtest.BenchOverHTTP(b, newMem(b)) })
}
