package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/idempotency/idempotencytest"
	"github.com/lifeline-go/lifeline/idempotency/sqlstore"
	"github.com/lifeline-go/lifeline/internal/pgtest"
)

func TestConformance(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		db := d.open(t)
		idempotencytest.Run(t, func(t *testing.T) idempotency.Store {
			return newStore(t, db, d.dialect)
		})
	})
}

// TestConcurrentDuplicates is the double click multiplied: 50 identical
// POSTs with one key at once, behind the middleware, on each database.
func TestConcurrentDuplicates(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		db := d.open(t)
		idempotencytest.RunConcurrency(t, func(t *testing.T) idempotency.Store {
			return newStore(t, db, d.dialect)
		})
	})
}

func post(h http.Handler, key, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/orders", strings.NewReader(body))
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestCompleteTx: the order and its answer commit together; the retry is
// replayed the original answer and places nothing.
func TestCompleteTx(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		db := d.open(t)
		store := newStore(t, db, d.dialect)
		s := newShop(t, d, db, store)
		h := newMiddleware(t, store).Handler(s)
		first := post(h, "k", "book")
		if first.Code != http.StatusCreated {
			t.Fatalf("first: %d %s", first.Code, first.Body)
		}
		again := post(h, "k", "book")
		if again.Code != http.StatusCreated || again.Header().Get("Idempotent-Replayed") != "true" || again.Body.String() != first.Body.String() {
			t.Fatalf("retry: %d replayed=%q %s, want the replay of %s", again.Code, again.Header().Get("Idempotent-Replayed"), again.Body, first.Body)
		}
		if loc := again.Header().Get("Location"); loc != "/orders/1" {
			t.Fatalf("replayed Location %q", loc)
		}
		if n := s.orders(t); n != 1 {
			t.Fatalf("%d orders, want 1", n)
		}
	})
}

// TestCompleteTxRollback: a transaction that records the answer and then
// rolls back leaves the key free: the retry places the order, once.
func TestCompleteTxRollback(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		db := d.open(t)
		store := newStore(t, db, d.dialect)
		s := newShop(t, d, db, store)
		h := newMiddleware(t, store).Handler(s)
		s.rollback.Store(true)
		post(h, "k", "book")
		if n := s.orders(t); n != 0 {
			t.Fatalf("%d orders after a rollback, want 0", n)
		}
		s.rollback.Store(false)
		w := post(h, "k", "book")
		if w.Code != http.StatusCreated || w.Header().Get("Idempotent-Replayed") != "" {
			t.Fatalf("retry: %d replayed=%q, want a fresh run", w.Code, w.Header().Get("Idempotent-Replayed"))
		}
		if n := s.orders(t); n != 1 {
			t.Fatalf("%d orders, want 1", n)
		}
	})
}

// TestCompleteTxTakenOver: a run whose lease ran out and whose key another
// run took over (here just before the run's transaction: on SQLite nothing
// else writes during it) cannot record its answer: CompleteTx fails with
// ErrReservationLost and its transaction rolls back, so only one of the
// two runs' orders commits.
func TestCompleteTxTakenOver(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		db := d.open(t)
		store := newStore(t, db, d.dialect, sqlstore.WithTable("taken"))
		s := newShop(t, d, db, store)
		var lost error
		s.crash = func(point string) {
			if point != "start" {
				return
			}
			// The lease runs out (as after a long stall of the database)
			// and a retry takes the key over with its own token.
			if _, err := db.Exec(`UPDATE taken SET expires_at = 0`); err != nil {
				t.Error(err)
			}
			res, err := store.Reserve(context.Background(), "k", fingerprintOf(t, "book"), "the-retry", time.Minute)
			if err != nil || res.State != idempotency.StateReserved {
				t.Errorf("takeover: %v %v", res.State, err)
			}
		}
		h := newMiddleware(t, store).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					lost, _ = v.(error)
					w.WriteHeader(http.StatusInternalServerError)
				}
			}()
			s.ServeHTTP(w, r)
		}))
		post(h, "k", "book")
		if !errors.Is(lost, idempotency.ErrReservationLost) {
			t.Fatalf("CompleteTx after a takeover: %v, want ErrReservationLost", lost)
		}
		if n := s.orders(t); n != 0 {
			t.Fatalf("%d orders committed by the run that lost its key, want 0", n)
		}
	})
}

// fingerprintOf is the fingerprint the middleware gives post(h, key, body),
// learnt through a store that records it.
func fingerprintOf(t *testing.T, body string) string {
	t.Helper()
	var fp string
	spy := spyStore{fp: &fp}
	post(newMiddleware(t, spy).Handler(http.NotFoundHandler()), "k", body)
	return fp
}

type spyStore struct {
	idempotency.Store
	fp *string
}

func (s spyStore) Reserve(_ context.Context, _, fp, _ string, _ time.Duration) (idempotency.Reservation, error) {
	*s.fp = fp
	return idempotency.Reservation{State: idempotency.StateInProgress}, nil
}

// TestCompleteTxWithoutKey: a request that is not protected has no lease;
// CompleteTx does nothing and the transaction commits as usual.
func TestCompleteTxWithoutKey(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		db := d.open(t)
		store := newStore(t, db, d.dialect)
		s := newShop(t, d, db, store)
		h := newMiddleware(t, store).Handler(s)
		for range 2 {
			if w := post(h, "", "book"); w.Code != http.StatusCreated {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
		}
		if n := s.orders(t); n != 2 {
			t.Fatalf("%d orders, want 2", n)
		}
	})
}

func TestNewValidates(t *testing.T) {
	db, err := sql.Open("sqlite", sqliteDSN(t.TempDir()+"/x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tests := []struct {
		name    string
		db      *sql.DB
		dialect sqlstore.Dialect
		opt     sqlstore.Option
	}{
		{"nil db", nil, sqlstore.SQLite, sqlstore.WithTable("t")},
		{"no dialect", db, 0, sqlstore.WithTable("t")},
		{"nil option", db, sqlstore.SQLite, nil},
		{"table with a space", db, sqlstore.SQLite, sqlstore.WithTable("a b")},
		{"table with a quote", db, sqlstore.SQLite, sqlstore.WithTable(`t"; DROP TABLE orders; --`)},
		{"table starting with a digit", db, sqlstore.SQLite, sqlstore.WithTable("1t")},
		{"empty table", db, sqlstore.SQLite, sqlstore.WithTable("")},
		{"cleanup interval", db, sqlstore.SQLite, sqlstore.WithCleanupInterval(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sqlstore.New(t.Context(), tt.db, tt.dialect, tt.opt)
			if !errors.Is(err, idempotency.ErrInvalidOption) || !strings.HasPrefix(err.Error(), "sqlstore: ") {
				t.Fatalf("New error = %v, want one matching idempotency.ErrInvalidOption, prefixed sqlstore:", err)
			}
		})
	}
}

// TestStoreUnavailable: a database that cannot serve is reported as
// ErrStoreUnavailable, which the middleware answers with 503: a
// PostgreSQL server that went away, a SQLite database locked past the busy
// timeout.
func TestStoreUnavailable(t *testing.T) {
	t.Run("postgres down", func(t *testing.T) {
		srv := pgtest.Start(t)
		d := database{sqlstore.Postgres, "pgx", srv.Database(t)}
		db := d.open(t)
		store := newStore(t, db, d.dialect)
		// SIGQUIT, an immediate shutdown, ends every session; after a
		// SIGKILL of the postmaster its backends may serve a while longer.
		srv.Kill(syscall.SIGQUIT)
		_, err := store.Reserve(t.Context(), "k", "fp", "t", time.Minute)
		if !errors.Is(err, idempotency.ErrStoreUnavailable) {
			t.Fatalf("Reserve with the server down: %v, want ErrStoreUnavailable", err)
		}
	})
	t.Run("sqlite locked", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "app.db")
		d := database{sqlstore.SQLite, "sqlite", "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(50)&_txlock=immediate"}
		db := d.open(t)
		store := newStore(t, db, d.dialect)
		tx, err := db.BeginTx(t.Context(), nil) // takes the write lock and keeps it
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		_, err = store.Reserve(t.Context(), "k", "fp", "t", time.Minute)
		if !errors.Is(err, idempotency.ErrStoreUnavailable) {
			t.Fatalf("Reserve with the database locked: %v, want ErrStoreUnavailable", err)
		}
	})
}
