package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/idempotency/idempotencytest"
	"github.com/lifeline-go/lifeline/idempotency/redisstore"
	"github.com/lifeline-go/lifeline/internal/redistest"
)

func newClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: 1, DialTimeout: time.Second, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newStore(t testing.TB, c redis.Scripter, opts ...redisstore.Option) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(c, opts...)
	if err != nil {
		t.Fatalf("redisstore.New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr())
	var n atomic.Int64
	idempotencytest.Run(t, func(t *testing.T) idempotency.Store {
		return newStore(t, c, redisstore.WithPrefix(fmt.Sprintf("conformance-%d:", n.Add(1))))
	})
}

func TestNewRejectsNilClient(t *testing.T) {
	if _, err := redisstore.New(nil); !errors.Is(err, idempotency.ErrInvalidOption) || !strings.HasPrefix(err.Error(), "redisstore: ") {
		t.Fatalf("New(nil) error = %v, want one matching ErrInvalidOption, prefixed redisstore:", err)
	}
}

func TestNewRejectsNilOption(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never contacted
	defer client.Close()
	if _, err := redisstore.New(client, redisstore.WithPrefix("p:"), nil); !errors.Is(err, idempotency.ErrInvalidOption) || !strings.HasPrefix(err.Error(), "redisstore: ") {
		t.Fatalf("New(client, nil option) error = %v, want one matching ErrInvalidOption, prefixed redisstore:", err)
	}
}

func TestPrefix(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr())
	ctx := context.Background()
	a, b := newStore(t, c, redisstore.WithPrefix("app-a:")), newStore(t, c, redisstore.WithPrefix("app-b:"))
	for _, s := range []*redisstore.Store{a, b} {
		res, err := s.Reserve(ctx, "k", "fp", "t", time.Hour)
		if err != nil || res.State != idempotency.StateReserved {
			t.Fatalf("Reserve = %+v, %v; want reserved in each prefix", res, err)
		}
	}
	if n, err := c.Exists(ctx, "app-a:k", "app-b:k").Result(); err != nil || n != 2 {
		t.Fatalf("EXISTS app-a:k app-b:k = %d, %v; want 2", n, err)
	}
	ttl, err := c.PTTL(ctx, "app-a:k").Result()
	if err != nil || ttl <= 0 || ttl > time.Hour {
		t.Fatalf("PTTL app-a:k = %v, %v; want the reservation TTL", ttl, err)
	}
}

// TestRedisDown checks that a dead Redis gives ErrStoreUnavailable, from
// every operation, and that the store works again once Redis is back.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr())
	s := newStore(t, c)
	ctx := context.Background()
	if _, err := s.Reserve(ctx, "held", "fp", "t", time.Hour); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	_, err := s.Reserve(ctx, "k", "fp", "t", time.Hour)
	if !errors.Is(err, idempotency.ErrStoreUnavailable) {
		t.Fatalf("Reserve with Redis down: error = %v, want ErrStoreUnavailable", err)
	}
	if err := s.Complete(ctx, "held", "t", &idempotency.Record{StatusCode: 200}, time.Hour); !errors.Is(err, idempotency.ErrStoreUnavailable) {
		t.Fatalf("Complete with Redis down: error = %v, want ErrStoreUnavailable", err)
	}
	if err := s.Release(ctx, "held", "t"); !errors.Is(err, idempotency.ErrStoreUnavailable) {
		t.Fatalf("Release with Redis down: error = %v, want ErrStoreUnavailable", err)
	}
	srv.Restart()
	res, err := s.Reserve(ctx, "k", "fp", "t", time.Hour)
	if err != nil || res.State != idempotency.StateReserved {
		t.Fatalf("Reserve after Redis restarted = %+v, %v; want reserved", res, err)
	}
}

func TestWrongTypeIsNotUnavailable(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr())
	ctx := context.Background()
	if err := c.Set(ctx, "idempotency:k", "a string", 0).Err(); err != nil {
		t.Fatal(err)
	}
	_, err := newStore(t, c).Reserve(ctx, "k", "fp", "t", time.Hour)
	if err == nil || errors.Is(err, idempotency.ErrStoreUnavailable) {
		t.Fatalf("Reserve of a key of the wrong type: error = %v, want a plain error", err)
	}
}

// TestTwoClients is the multi-instance case at store level: two processes
// (two clients) race for one key and exactly one wins.
func TestTwoClients(t *testing.T) {
	srv := redistest.Start(t)
	stores := []*redisstore.Store{newStore(t, newClient(t, srv.Addr())), newStore(t, newClient(t, srv.Addr()))}
	ctx := context.Background()
	for round := range 20 {
		key := fmt.Sprint("race-", round)
		results := make(chan idempotency.State, 2)
		errs := make(chan error, 2)
		for i, s := range stores {
			go func() {
				res, err := s.Reserve(ctx, key, "fp", fmt.Sprint("t", i), time.Hour)
				results <- res.State
				errs <- err
			}()
		}
		got := map[idempotency.State]int{}
		for range stores {
			got[<-results]++
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if got[idempotency.StateReserved] != 1 || got[idempotency.StateInProgress] != 1 {
			t.Fatalf("round %d: %v, want one reserved and one in progress", round, got)
		}
	}
}
