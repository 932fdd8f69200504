package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	_ "modernc.org/sqlite"             // the "sqlite" driver

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/idempotency/sqlstore"
	"github.com/lifeline-go/lifeline/internal/pgtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(crashChild())
	}
	os.Exit(pgtest.Main(m))
}

// sqliteDSN is the connection string the package documentation
// recommends, for the file at path.
func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_txlock=immediate"
}

// database is one test database: a connection string and its dialect.
type database struct {
	dialect sqlstore.Dialect
	driver  string
	dsn     string
}

// databases returns a fresh SQLite file and a fresh PostgreSQL database
// (on the test binary's shared server), each as a subtest's argument.
func eachDatabase(t *testing.T, fn func(t *testing.T, d database)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		fn(t, database{sqlstore.SQLite, "sqlite", sqliteDSN(filepath.Join(t.TempDir(), "app.db"))})
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, database{sqlstore.Postgres, "pgx", pgtest.Shared(t).Database(t)})
	})
}

func (d database) open(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open(d.driver, d.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// sql adapts a statement written with $n placeholders to the dialect.
func (d database) sql(s string) string {
	if d.dialect == sqlstore.SQLite {
		return strings.ReplaceAll(s, "$", "?")
	}
	return s
}

var tableSeq atomic.Int64

// newStore returns a Store on db in a table of its own.
func newStore(t testing.TB, db *sql.DB, d sqlstore.Dialect, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts = append([]sqlstore.Option{sqlstore.WithTable(fmt.Sprintf("idem_%d", tableSeq.Add(1)))}, opts...)
	s, err := sqlstore.New(ctx, db, d, opts...)
	if err != nil {
		t.Fatalf("sqlstore.New: %v", err)
	}
	return s
}

// shop is the order service under test: orders and the idempotency keys
// in one database, the order and its answer committed together.
type shop struct {
	d     database
	db    *sql.DB
	store *sqlstore.Store
	// crash, if set, is called at the named points of an order: "start"
	// (before its transaction), "inserted", "recorded" (answer written and
	// recorded, not committed) and "committed".
	crash func(point string)
	// rollback makes the order's transaction roll back after recording,
	// as a failed Commit would.
	rollback atomic.Bool
}

const ordersTable = `CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL)`

func newShop(t testing.TB, d database, db *sql.DB, store *sqlstore.Store) *shop {
	t.Helper()
	s, err := makeShop(d, db, store)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func makeShop(d database, db *sql.DB, store *sqlstore.Store) (*shop, error) {
	if _, err := db.Exec(ordersTable); err != nil {
		return nil, err
	}
	return &shop{d: d, db: db, store: store, crash: func(string) {}}, nil
}

func (s *shop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	item, _ := io.ReadAll(r.Body)
	s.crash("start")
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, s.d.sql(`INSERT INTO orders (id, item) VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM orders), $1) RETURNING id`), string(item)).Scan(&id)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.crash("inserted")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Location", fmt.Sprintf("/orders/%d", id))
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"order":%d,"item":%q}`, id, item)
	if err := s.store.CompleteTx(ctx, tx, nil); err != nil {
		panic(err) // the answer written cannot stand: the run fails, and the key is released
	}
	s.crash("recorded")
	if s.rollback.Load() {
		return // the deferred Rollback, as after a failed Commit
	}
	if err := tx.Commit(); err != nil {
		panic(err)
	}
	s.crash("committed")
}

func (s *shop) orders(t testing.TB) int {
	t.Helper()
	var n int
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM orders`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func newMiddleware(t testing.TB, store idempotency.Store, opts ...idempotency.Option) *idempotency.Middleware {
	t.Helper()
	opts = append([]idempotency.Option{idempotency.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	m, err := idempotency.New(store, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
