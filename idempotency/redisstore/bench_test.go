package redisstore_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/internal/idemtest"
	"github.com/lifeline-go/lifeline/internal/redistest"
)

// BenchmarkOverhead measures a request protected with the Redis store
// against the same request to the bare handler, as package idempotency's
// BenchmarkOverhead does with the memory store: "first" runs the handler
// under a new key (reserve, record, complete), "replay" answers from the
// store. Run from this directory with:
//
//	go test -run '^$' -bench Overhead -benchtime 2s .
func BenchmarkOverhead(b *testing.B) {
	srv := redistest.Start(b)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	b.Cleanup(func() { _ = client.Close() })
	b.Run("redisstore", func(b *testing.B) {
		idemtest.BenchOverhead(b, func(b *testing.B) idempotency.Store {
			if err := client.FlushDB(context.Background()).Err(); err != nil {
				b.Fatal(err)
			}
			return newStore(b, client)
		})
	})
}

// BenchmarkOverHTTP is the end-to-end view: POSTs over a loopback HTTP/1.1
// keep-alive connection to a bare server and to one protected with the
// Redis store, side by side, each request with a new key.
func BenchmarkOverHTTP(b *testing.B) {
	srv := redistest.Start(b)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	b.Cleanup(func() { _ = client.Close() })
	rs := newStore(b, client)
	b.Run("redisstore", func(b *testing.B) { idemtest.BenchOverHTTP(b, rs) })
}
