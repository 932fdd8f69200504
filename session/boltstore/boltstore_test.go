package boltstore_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/boltstore"
	"github.com/lifeline-go/lifeline/session/sessiontest"
)

func open(t *testing.T, path string) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("bbolt.Open = %v", err)
	}
	return db
}

func newStore(t *testing.T, db *bbolt.DB, opts ...boltstore.Option) *boltstore.Store {
	t.Helper()
	s, err := boltstore.New(db, opts...)
	if err != nil {
		t.Fatalf("boltstore.New = %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) session.Store {
		db := open(t, filepath.Join(t.TempDir(), "sessions.db"))
		t.Cleanup(func() { _ = db.Close() })
		return newStore(t, db)
	})
}

// TestSurvivesRestart closes the file and opens it again, as a restarted
// server does: the session is still there, and fences keep growing.
func TestSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	ctx := t.Context()
	db := open(t, path)
	m, err := session.New(newStore(t, db))
	if err != nil {
		t.Fatal(err)
	}
	cookie := sessiontest.NewSession(t, m, func(s *session.Session) error { return s.Set("user", "ann") })
	if err := sessiontest.Increment(m, cookie, "visits"); err != nil {
		t.Fatal(err)
	}
	before := newStore(t, db) // a second store on the open file: next epoch
	tokBefore, err := before.Lock(ctx, cookie.Value, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_ = before.Unlock(ctx, cookie.Value, tokBefore)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = open(t, path)
	defer db.Close()
	store := newStore(t, db)
	m, err = session.New(store)
	if err != nil {
		t.Fatal(err)
	}
	if got := sessiontest.Read(t, m, cookie, "visits"); got != 1 {
		t.Errorf("visits after restart = %d, want 1", got)
	}
	if err := sessiontest.Increment(m, cookie, "visits"); err != nil {
		t.Fatalf("Increment after restart = %v (session lost?)", err)
	}
	tok, err := store.Lock(ctx, cookie.Value, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Fence <= tokBefore.Fence {
		t.Errorf("fence after restart %d <= %d before: fences must keep growing", tok.Fence, tokBefore.Fence)
	}
}

// TestOneProcessPerFile shows what the package doc relies on: bbolt's flock
// keeps a second opener (here in the same process, as another process
// would be) out of the file while the first has it open.
func TestOneProcessPerFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	db := open(t, path)
	defer db.Close()
	_, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, berrors.ErrTimeout) {
		t.Fatalf("second bbolt.Open = %v, want ErrTimeout (file locked)", err)
	}
}

func TestClosedDBIsUnavailable(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "sessions.db"))
	s := newStore(t, db)
	_ = db.Close()
	id := sessiontest.ID(t)
	if _, err := s.Load(t.Context(), id); !errors.Is(err, session.ErrStoreUnavailable) {
		t.Fatalf("Load on a closed file = %v, want ErrStoreUnavailable", err)
	}
}

func TestSweep(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "sessions.db"))
	defer db.Close()
	s := newStore(t, db, boltstore.WithCleanupInterval(time.Millisecond))
	ctx := t.Context()
	old, fresh := sessiontest.ID(t), sessiontest.ID(t)
	tok, _ := s.Lock(ctx, old, time.Minute)
	if err := s.Save(ctx, old, tok, []byte("x"), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // past the entry's TTL and the sweep interval
	tok2, _ := s.Lock(ctx, fresh, time.Minute)
	if err := s.Save(ctx, fresh, tok2, []byte("y"), time.Minute); err != nil {
		t.Fatal(err)
	}
	var n int
	_ = db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket([]byte("lifeline_sessions")).Bucket([]byte("data")).Stats().KeyN
		return nil
	})
	if n != 1 {
		t.Errorf("%d entries after a sweep, want 1 (the expired one removed)", n)
	}
}

func TestNewValidates(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "sessions.db"))
	defer db.Close()
	for name, opts := range map[string][]boltstore.Option{
		"empty bucket":     {boltstore.WithBucket("")},
		"cleanup interval": {boltstore.WithCleanupInterval(0)},
		"nil option":       {boltstore.WithBucket("b"), nil},
	} {
		_, err := boltstore.New(db, opts...)
		if !errors.Is(err, session.ErrInvalidOption) || !strings.HasPrefix(err.Error(), "boltstore: ") {
			t.Errorf("New(%s) = %v, want \"boltstore: ...\" wrapping session.ErrInvalidOption", name, err)
		}
	}
	if _, err := boltstore.New(nil); !errors.Is(err, session.ErrInvalidOption) {
		t.Errorf("New(nil) = %v, want ErrInvalidOption", err)
	}
}
