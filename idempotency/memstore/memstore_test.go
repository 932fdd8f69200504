package memstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/idempotency/idempotencytest"
	"github.com/lifeline-go/lifeline/idempotency/memstore"
)

func newStore(t *testing.T, opts ...memstore.Option) *memstore.Store {
	t.Helper()
	s, err := memstore.New(opts...)
	if err != nil {
		t.Fatalf("memstore.New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	idempotencytest.Run(t, func(t *testing.T) idempotency.Store { return newStore(t) })
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  memstore.Option
	}{
		{"zero cleanup interval", memstore.WithCleanupInterval(0)},
		{"negative cleanup interval", memstore.WithCleanupInterval(-time.Second)},
		{"nil option", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := memstore.New(tt.opt)
			if !errors.Is(err, idempotency.ErrInvalidOption) || !strings.HasPrefix(err.Error(), "memstore: ") {
				t.Errorf("New error = %v, want one matching idempotency.ErrInvalidOption, prefixed memstore:", err)
			}
		})
	}
}

// TestExpiryExact checks the TTLs to the nanosecond on synctest's virtual
// clock, which the conformance suite cannot do against a real server.
func TestExpiryExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := newStore(t)
		state := func(token string) idempotency.State {
			t.Helper()
			res, err := s.Reserve(ctx, "k", "fp", token, time.Hour)
			if err != nil {
				t.Fatalf("Reserve: %v", err)
			}
			return res.State
		}
		if got := state("t1"); got != idempotency.StateReserved {
			t.Fatalf("first Reserve = %v, want reserved", got)
		}
		time.Sleep(time.Hour - time.Nanosecond)
		if got := state("t2"); got != idempotency.StateInProgress {
			t.Fatalf("Reserve 1ns before the reservation expires = %v, want in progress", got)
		}
		if err := s.Complete(ctx, "k", "t1", &idempotency.Record{StatusCode: 201}, 24*time.Hour); err != nil {
			t.Fatalf("Complete: %v", err)
		}
		time.Sleep(24*time.Hour - time.Nanosecond)
		if got := state("t3"); got != idempotency.StateCompleted {
			t.Fatalf("Reserve 1ns before the record expires = %v, want completed", got)
		}
		time.Sleep(time.Nanosecond)
		if got := state("t4"); got != idempotency.StateReserved {
			t.Fatalf("Reserve when the record expires = %v, want reserved", got)
		}
	})
}

// TestSweepBoundsMemory checks that expired keys leave the map at the next
// Reserve after the cleanup interval, and not before.
func TestSweepBoundsMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := newStore(t, memstore.WithCleanupInterval(10*time.Minute))
		for _, k := range []string{"a", "b", "c"} {
			if _, err := s.Reserve(ctx, k, "fp", "t", time.Minute); err != nil {
				t.Fatalf("Reserve: %v", err)
			}
		}
		if _, err := s.Reserve(ctx, "long", "fp", "t", time.Hour); err != nil {
			t.Fatalf("Reserve: %v", err)
		}
		time.Sleep(5 * time.Minute)
		if _, err := s.Reserve(ctx, "d", "fp", "t", time.Hour); err != nil {
			t.Fatalf("Reserve: %v", err)
		}
		if got := s.Len(); got != 5 {
			t.Fatalf("Len() before the cleanup interval = %d, want 5", got)
		}
		time.Sleep(5 * time.Minute)
		if _, err := s.Reserve(ctx, "e", "fp", "t", time.Hour); err != nil {
			t.Fatalf("Reserve: %v", err)
		}
		if got := s.Len(); got != 3 {
			t.Fatalf("Len() after the sweep = %d, want 3 (long, d, e)", got)
		}
	})
}
