package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/idempotency/sqlstore"
)

// Example places an order and records its answer in one SQLite
// transaction; the retry with the same key is replayed the answer, and the
// order exists once.
func Example() {
	dir, err := os.MkdirTemp("", "sqlstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "shop.db")+
		"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL)`); err != nil {
		log.Fatal(err)
	}

	store, err := sqlstore.New(context.Background(), db, sqlstore.SQLite)
	if err != nil {
		log.Fatal(err)
	}
	idem, err := idempotency.New(store)
	if err != nil {
		log.Fatal(err)
	}
	placeOrder := func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		item, _ := io.ReadAll(r.Body)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		defer tx.Rollback()
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO orders (item) VALUES (?) RETURNING id`, string(item)).Scan(&id); err != nil {
			http.Error(w, "order failed", http.StatusInternalServerError)
			return
		}
		// Write the answer, record it in the transaction, commit.
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "order %d: %s", id, item)
		if err := store.CompleteTx(ctx, tx, nil); err != nil {
			panic(err) // the key is released; the retry runs again
		}
		if err := tx.Commit(); err != nil {
			panic(err)
		}
	}
	h := idem.Handler(http.HandlerFunc(placeOrder))

	for range 2 {
		r := httptest.NewRequest("POST", "/orders", strings.NewReader("book"))
		r.Header.Set("Idempotency-Key", "order-7f3a")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Printf("%d replayed=%q %s\n", w.Code, w.Header().Get("Idempotent-Replayed"), w.Body)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM orders`).Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "order")
	// Output:
	// 201 replayed="" order 1: book
	// 201 replayed="true" order 1: book
	// 1 order
}

// ExampleNew shows every option with its default value, and the error for
// a nil option.
func ExampleNew() {
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	_, err = sqlstore.New(context.Background(), db, sqlstore.SQLite,
		sqlstore.WithTable("lifeline_idempotency"),
		sqlstore.WithCleanupInterval(time.Minute),
	)
	fmt.Println(err)
	_, err = sqlstore.New(context.Background(), db, sqlstore.SQLite, nil)
	fmt.Println(err)
	// Output:
	// <nil>
	// sqlstore: opts[0] is nil: idempotency: invalid option
}
