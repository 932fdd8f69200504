// Package idempotencytest is the conformance suite for implementations of
// [idempotency.Store], named after httptest and iotest.
//
// A store package calls [Run] from a test with a function that returns a
// fresh, empty store:
//
//	func TestConformance(t *testing.T) {
//		idempotencytest.Run(t, func(t *testing.T) idempotency.Store {
//			s, err := memstore.New()
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// The suite covers reservation, the fingerprint check, lease renewal,
// completion and release with their ownership tokens, records round-tripping unchanged,
// expiry, cancelled contexts, and the atomicity of Reserve under
// concurrent callers. Expiry is checked against the store's own clock with
// short TTLs and polling (a real Redis cannot be given virtual time), so a
// run takes a fraction of a second.
//
// [RunConcurrency] checks the store end to end, behind the middleware: many
// identical requests sent at once over HTTP place exactly one order. Call it
// beside Run.
package idempotencytest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/internal/wait"
)

const (
	fpA  = "fingerprint-a"
	fpB  = "fingerprint-b"
	long = time.Hour
)

// Run runs the conformance suite against the stores returned by newStore,
// which is called once per subtest and must return an empty store (for a
// shared server, use a fresh key prefix) cleaned up by t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) idempotency.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s idempotency.Store)
	}{
		{"ReserveStates", testReserveStates},
		{"CompleteReplays", testCompleteReplays},
		{"RecordsRoundTrip", testRecordsRoundTrip},
		{"TokenOwnership", testTokenOwnership},
		{"ReleaseFreesKey", testReleaseFreesKey},
		{"UnknownKey", testUnknownKey},
		{"KeysAreDistinct", testKeysAreDistinct},
		{"ConcurrentReserve", testConcurrentReserve},
		{"ReservationExpires", testReservationExpires},
		{"RenewExtendsLease", testRenewExtendsLease},
		{"RenewOwnership", testRenewOwnership},
		{"RecordExpires", testRecordExpires},
		{"CancelledContext", testCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func reserve(t *testing.T, s idempotency.Store, key, fp, token string, ttl time.Duration, want idempotency.State) idempotency.Reservation {
	t.Helper()
	res, err := s.Reserve(ctx(t), key, fp, token, ttl)
	if err != nil {
		t.Fatalf("Reserve(%q, %q, %q) error: %v", key, fp, token, err)
	}
	if res.State != want {
		t.Fatalf("Reserve(%q, %q, %q) = %v, want %v", key, fp, token, res.State, want)
	}
	if want == idempotency.StateCompleted && res.Record == nil {
		t.Fatalf("Reserve(%q) = completed with a nil Record", key)
	}
	if want != idempotency.StateCompleted && res.Record != nil {
		t.Fatalf("Reserve(%q) = %v with a Record, want none", key, res.State)
	}
	return res
}

func complete(t *testing.T, s idempotency.Store, key, token string, rec *idempotency.Record, ttl time.Duration) {
	t.Helper()
	if err := s.Complete(ctx(t), key, token, rec, ttl); err != nil {
		t.Fatalf("Complete(%q, %q) error: %v", key, token, err)
	}
}

func wantLost(t *testing.T, op string, err error) {
	t.Helper()
	if !errors.Is(err, idempotency.ErrReservationLost) {
		t.Fatalf("%s error = %v, want one matching idempotency.ErrReservationLost", op, err)
	}
}

func sampleRecord() *idempotency.Record {
	return &idempotency.Record{
		StatusCode: http.StatusCreated,
		Header: http.Header{
			"Content-Type": {"application/json"},
			"Location":     {"/orders/42"},
			"Vary":         {"Accept", "Accept-Encoding"},
		},
		Body:     []byte(`{"order":42}`),
		BodySize: 12,
	}
}

func testReserveStates(t *testing.T, s idempotency.Store) {
	reserve(t, s, "k", fpA, "t1", long, idempotency.StateReserved)
	reserve(t, s, "k", fpA, "t2", long, idempotency.StateInProgress)
	reserve(t, s, "k", fpB, "t3", long, idempotency.StateMismatch)
	reserve(t, s, "k", fpA, "t4", long, idempotency.StateInProgress)
}

func testCompleteReplays(t *testing.T, s idempotency.Store) {
	reserve(t, s, "k", fpA, "t1", long, idempotency.StateReserved)
	complete(t, s, "k", "t1", sampleRecord(), long)
	for i := range 2 {
		res := reserve(t, s, "k", fpA, fmt.Sprint("t", i+2), long, idempotency.StateCompleted)
		if !reflect.DeepEqual(res.Record, sampleRecord()) {
			t.Fatalf("replay %d: Record = %+v, want %+v", i, res.Record, sampleRecord())
		}
	}
	reserve(t, s, "k", fpB, "t9", long, idempotency.StateMismatch)
	wantLost(t, "Complete after Complete", s.Complete(ctx(t), "k", "t1", sampleRecord(), long))
	wantLost(t, "Release after Complete", s.Release(ctx(t), "k", "t1"))
	reserve(t, s, "k", fpA, "t10", long, idempotency.StateCompleted)
}

func testRecordsRoundTrip(t *testing.T, s idempotency.Store) {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	big := []byte(strings.Repeat("0123456789abcdef", 1<<16)) // 1 MiB
	tests := []struct {
		name string
		rec  *idempotency.Record
	}{
		{"sample", sampleRecord()},
		{"no header no body", &idempotency.Record{StatusCode: http.StatusNoContent}},
		{"binary body", &idempotency.Record{StatusCode: 200, Header: http.Header{"X-Empty": {""}}, Body: binary, BodySize: 256}},
		{"1 MiB body", &idempotency.Record{StatusCode: 200, Body: big, BodySize: int64(len(big))}},
		{"client error", &idempotency.Record{StatusCode: http.StatusUnprocessableEntity, Body: []byte("no"), BodySize: 2}},
		{"body omitted", &idempotency.Record{StatusCode: 200, Header: http.Header{"Location": {"/x"}}, BodySize: 5 << 20, BodyOmitted: true}},
		{"hijacked", &idempotency.Record{Hijacked: true, BodyOmitted: true}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprint("rt-", i)
			reserve(t, s, key, fpA, "t", long, idempotency.StateReserved)
			complete(t, s, key, "t", tt.rec, long)
			res := reserve(t, s, key, fpA, "u", long, idempotency.StateCompleted)
			if !reflect.DeepEqual(res.Record, tt.rec) {
				t.Fatalf("Record = %+v, want %+v", res.Record, tt.rec)
			}
		})
	}
}

func testTokenOwnership(t *testing.T, s idempotency.Store) {
	reserve(t, s, "k", fpA, "owner", long, idempotency.StateReserved)
	reserve(t, s, "k", fpA, "other", long, idempotency.StateInProgress)
	wantLost(t, "Complete with another token", s.Complete(ctx(t), "k", "other", sampleRecord(), long))
	wantLost(t, "Release with another token", s.Release(ctx(t), "k", "other"))
	reserve(t, s, "k", fpA, "third", long, idempotency.StateInProgress)
	complete(t, s, "k", "owner", sampleRecord(), long)
	reserve(t, s, "k", fpA, "fourth", long, idempotency.StateCompleted)
}

func testReleaseFreesKey(t *testing.T, s idempotency.Store) {
	reserve(t, s, "k", fpA, "t1", long, idempotency.StateReserved)
	if err := s.Release(ctx(t), "k", "t1"); err != nil {
		t.Fatalf("Release error: %v", err)
	}
	wantLost(t, "second Release", s.Release(ctx(t), "k", "t1"))
	wantLost(t, "Complete after Release", s.Complete(ctx(t), "k", "t1", sampleRecord(), long))
	// A released key is free for any request, even one with another
	// fingerprint: nothing ran under it.
	reserve(t, s, "k", fpB, "t2", long, idempotency.StateReserved)
	complete(t, s, "k", "t2", sampleRecord(), long)
	reserve(t, s, "k", fpB, "t3", long, idempotency.StateCompleted)
}

func testUnknownKey(t *testing.T, s idempotency.Store) {
	wantLost(t, "Complete of an unknown key", s.Complete(ctx(t), "nope", "t", sampleRecord(), long))
	wantLost(t, "Release of an unknown key", s.Release(ctx(t), "nope", "t"))
	reserve(t, s, "nope", fpA, "t", long, idempotency.StateReserved)
}

func testKeysAreDistinct(t *testing.T, s idempotency.Store) {
	keys := []string{
		"a", "A", "a ", "ab", "a:b", "3:abc:k", "3:ab:ck", `"quoted"`, "tab\tkey",
		"\x00nul", "ünïcödé", strings.Repeat("k", 300),
	}
	for i, k := range keys {
		reserve(t, s, k, fpA, fmt.Sprint("t", i), long, idempotency.StateReserved)
	}
	for i, k := range keys {
		complete(t, s, k, fmt.Sprint("t", i), &idempotency.Record{StatusCode: 200, Body: []byte(k), BodySize: int64(len(k))}, long)
	}
	for _, k := range keys {
		res := reserve(t, s, k, fpA, "x", long, idempotency.StateCompleted)
		if string(res.Record.Body) != k {
			t.Fatalf("key %q replays the body %q", k, res.Record.Body)
		}
	}
}

// testConcurrentReserve is the double-click: many callers race for one
// key, and exactly one may run.
func testConcurrentReserve(t *testing.T, s idempotency.Store) {
	const n = 32
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		mu       sync.Mutex
		counts   = map[idempotency.State]int{}
		firstErr error
	)
	c := ctx(t)
	for i := range n {
		wg.Go(func() {
			<-start
			res, err := s.Reserve(c, "race", fpA, fmt.Sprint("t", i), long)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			counts[res.State]++
		})
	}
	close(start)
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("Reserve error: %v", firstErr)
	}
	if counts[idempotency.StateReserved] != 1 || counts[idempotency.StateInProgress] != n-1 {
		t.Fatalf("%d concurrent Reserve calls gave %v, want 1 reserved and %d in progress", n, counts, n-1)
	}
}

// eventually polls cond until it holds or ten seconds have passed. It is
// used for expiry on the store's own clock, never to assert a duration.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	wait.For(t, 10*time.Second, what, cond)
}

func testReservationExpires(t *testing.T, s idempotency.Store) {
	const short = 30 * time.Millisecond
	reserve(t, s, "stays", fpA, "t0", long, idempotency.StateReserved)
	reserve(t, s, "a", fpA, "ta", short, idempotency.StateReserved)
	reserve(t, s, "b", fpA, "tb", short, idempotency.StateReserved)
	// b was reserved after a with the same TTL: once b has expired, a has.
	eventually(t, "reservation of b expires", func() bool {
		res, err := s.Reserve(ctx(t), "b", fpB, "tb2", long)
		if err != nil {
			t.Fatalf("Reserve(b) error: %v", err)
		}
		return res.State == idempotency.StateReserved
	})
	wantLost(t, "Complete of an expired reservation", s.Complete(ctx(t), "a", "ta", sampleRecord(), long))
	wantLost(t, "Release of an expired reservation", s.Release(ctx(t), "a", "ta"))
	reserve(t, s, "a", fpB, "ta2", long, idempotency.StateReserved)
	reserve(t, s, "stays", fpA, "t1", long, idempotency.StateInProgress)
}

func testRecordExpires(t *testing.T, s idempotency.Store) {
	reserve(t, s, "stays", fpA, "t0", long, idempotency.StateReserved)
	complete(t, s, "stays", "t0", sampleRecord(), long)
	reserve(t, s, "k", fpA, "t1", long, idempotency.StateReserved)
	complete(t, s, "k", "t1", sampleRecord(), 30*time.Millisecond)
	eventually(t, "record expires", func() bool {
		res, err := s.Reserve(ctx(t), "k", fpA, "t2", long)
		if err != nil {
			t.Fatalf("Reserve(k) error: %v", err)
		}
		if res.State != idempotency.StateCompleted && res.State != idempotency.StateReserved {
			t.Fatalf("Reserve(k) = %v while the record expires", res.State)
		}
		return res.State == idempotency.StateReserved
	})
	reserve(t, s, "stays", fpA, "t3", long, idempotency.StateCompleted)
}

func testCancelledContext(t *testing.T, s idempotency.Store) {
	c, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Reserve(c, "k", fpA, "t", long); !errors.Is(err, context.Canceled) {
		t.Fatalf("Reserve with a cancelled context: error = %v, want context.Canceled", err)
	}
	reserve(t, s, "k", fpA, "t", long, idempotency.StateReserved)
	if err := s.Complete(c, "k", "t", sampleRecord(), long); !errors.Is(err, context.Canceled) {
		t.Fatalf("Complete with a cancelled context: error = %v, want context.Canceled", err)
	}
	if err := s.Release(c, "k", "t"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Release with a cancelled context: error = %v, want context.Canceled", err)
	}
	if err := s.Renew(c, "k", "t", long); !errors.Is(err, context.Canceled) {
		t.Fatalf("Renew with a cancelled context: error = %v, want context.Canceled", err)
	}
	reserve(t, s, "k", fpA, "u", long, idempotency.StateInProgress)
}

// testRenewExtendsLease is the lease of a live run: renewed, it outlives
// the duration it was reserved with, while an unrenewed one runs out.
func testRenewExtendsLease(t *testing.T, s idempotency.Store) {
	const lease = 500 * time.Millisecond
	reserve(t, s, "renewed", fpA, "ta", lease, idempotency.StateReserved)
	if err := s.Renew(ctx(t), "renewed", "ta", long); err != nil {
		t.Fatalf("Renew of a live reservation error: %v", err)
	}
	reserve(t, s, "crashed", fpA, "tb", lease, idempotency.StateReserved)
	// crashed was reserved after renewed with the same lease: once it has
	// run out, renewed's first lease has too.
	eventually(t, "the unrenewed lease runs out", func() bool {
		res, err := s.Reserve(ctx(t), "crashed", fpA, "tb2", long)
		if err != nil {
			t.Fatalf("Reserve(crashed) error: %v", err)
		}
		return res.State == idempotency.StateReserved
	})
	reserve(t, s, "renewed", fpA, "other", long, idempotency.StateInProgress)
	wantLost(t, "Renew after the lease ran out", s.Renew(ctx(t), "crashed", "tb", long))
	complete(t, s, "renewed", "ta", sampleRecord(), long)
	reserve(t, s, "renewed", fpA, "other", long, idempotency.StateCompleted)
}

// testRenewOwnership: only the live reservation's own token renews it.
func testRenewOwnership(t *testing.T, s idempotency.Store) {
	wantLost(t, "Renew of an unknown key", s.Renew(ctx(t), "nope", "t", long))
	reserve(t, s, "k", fpA, "owner", long, idempotency.StateReserved)
	wantLost(t, "Renew with another token", s.Renew(ctx(t), "k", "other", long))
	if err := s.Renew(ctx(t), "k", "owner", long); err != nil {
		t.Fatalf("Renew error: %v", err)
	}
	complete(t, s, "k", "owner", sampleRecord(), long)
	wantLost(t, "Renew after Complete", s.Renew(ctx(t), "k", "owner", long))
	reserve(t, s, "k", fpA, "x", long, idempotency.StateCompleted)

	reserve(t, s, "r", fpA, "owner", long, idempotency.StateReserved)
	if err := s.Release(ctx(t), "r", "owner"); err != nil {
		t.Fatalf("Release error: %v", err)
	}
	wantLost(t, "Renew after Release", s.Renew(ctx(t), "r", "owner", long))
	reserve(t, s, "r", fpA, "y", long, idempotency.StateReserved)
}
