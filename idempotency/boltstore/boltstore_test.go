package boltstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.etcd.io/bbolt"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/idempotency/boltstore"
	"github.com/lifeline-go/lifeline/idempotency/idempotencytest"
)

func openDB(t *testing.T, path string) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second, NoSync: true})
	if err != nil {
		t.Fatalf("bbolt.Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func newStore(t *testing.T, db *bbolt.DB, opts ...boltstore.Option) *boltstore.Store {
	t.Helper()
	s, err := boltstore.New(db, opts...)
	if err != nil {
		t.Fatalf("boltstore.New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	idempotencytest.Run(t, func(t *testing.T) idempotency.Store {
		return newStore(t, openDB(t, filepath.Join(t.TempDir(), "idem.db")))
	})
}

// TestConcurrentDuplicates is the double click multiplied: 50 identical
// POSTs with one key at once, behind the middleware.
func TestConcurrentDuplicates(t *testing.T) {
	idempotencytest.RunConcurrency(t, func(t *testing.T) idempotency.Store {
		return newStore(t, openDB(t, filepath.Join(t.TempDir(), "idem.db")))
	})
}

func TestNewRejectsBadOptions(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "idem.db"))
	tests := []struct {
		name string
		db   *bbolt.DB
		opts []boltstore.Option
	}{
		{"nil DB", nil, nil},
		{"empty bucket", db, []boltstore.Option{boltstore.WithBucket("")}},
		{"nil option", db, []boltstore.Option{boltstore.WithBucket("b"), nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := boltstore.New(tt.db, tt.opts...)
			if !errors.Is(err, idempotency.ErrInvalidOption) || !strings.HasPrefix(err.Error(), "boltstore: ") {
				t.Fatalf("New error = %v, want one matching ErrInvalidOption, prefixed boltstore:", err)
			}
		})
	}
}

// TestSurvivesRestart is the reason to choose this store: a completed key
// is still replayed after the process reopens the file.
func TestSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "idem.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(t, db)
	if _, err := s.Reserve(ctx, "done", "fp", "t", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, "done", "t", &idempotency.Record{StatusCode: 201, Body: []byte("ok"), BodySize: 2}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reserve(ctx, "running", "fp", "t", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s = newStore(t, openDB(t, path))
	res, err := s.Reserve(ctx, "done", "fp", "u", time.Hour)
	if err != nil || res.State != idempotency.StateCompleted || string(res.Record.Body) != "ok" {
		t.Fatalf("after reopening: Reserve(done) = %+v, %v; want the completed record", res, err)
	}
	res, err = s.Reserve(ctx, "running", "fp", "u", time.Hour)
	if err != nil || res.State != idempotency.StateInProgress {
		t.Fatalf("after reopening: Reserve(running) = %+v, %v; want in progress (a crash never frees a key early)", res, err)
	}
}

func TestClosedDBIsUnavailable(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "idem.db"))
	s := newStore(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := s.Reserve(context.Background(), "k", "fp", "t", time.Hour)
	if !errors.Is(err, idempotency.ErrStoreUnavailable) {
		t.Fatalf("Reserve on a closed DB: error = %v, want ErrStoreUnavailable", err)
	}
}

func TestCorruptEntry(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "idem.db"))
	s := newStore(t, db, boltstore.WithBucket("keys"))
	err := db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("keys")).Put([]byte("k"), []byte("garbage"))
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Reserve(context.Background(), "k", "fp", "t", time.Hour)
	if !errors.Is(err, idempotency.ErrCorruptRecord) || errors.Is(err, idempotency.ErrStoreUnavailable) {
		t.Fatalf("Reserve of a corrupt entry: error = %v, want ErrCorruptRecord only", err)
	}
}

// TestSweep checks on synctest's virtual clock that expired entries leave
// the file, in bounded batches, and live ones stay.
func TestSweep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idem.db")
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		db := openDB(t, path)
		s := newStore(t, db)
		for i := range 100 {
			if _, err := s.Reserve(ctx, string(rune('A'+i%26))+string(rune('a'+i/26)), "fp", "t", time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Reserve(ctx, "long", "fp", "t", time.Hour); err != nil {
			t.Fatal(err)
		}
		count := func() (entries, index int) {
			_ = db.View(func(tx *bbolt.Tx) error {
				entries = tx.Bucket([]byte("idempotency")).Stats().KeyN
				index = tx.Bucket([]byte("idempotency.expiry")).Stats().KeyN
				return nil
			})
			return entries, index
		}
		if e, ix := count(); e != 101 || ix != 101 {
			t.Fatalf("before expiry: %d entries, %d index entries; want 101, 101", e, ix)
		}
		time.Sleep(time.Minute)
		for _, want := range []int{101 - 64 + 1, 2 + 1} {
			if _, err := s.Reserve(ctx, "new"+string(rune('0'+want%10)), "fp", "t", time.Hour); err != nil {
				t.Fatal(err)
			}
			if e, ix := count(); e != want || ix != want {
				t.Fatalf("after a sweep: %d entries, %d index entries; want %d", e, ix, want)
			}
		}
	})
}
