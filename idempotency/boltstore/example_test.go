package boltstore_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/idempotency/boltstore"
)

func ExampleNew() {
	dir, err := os.MkdirTemp("", "boltstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := bbolt.Open(filepath.Join(dir, "idempotency.db"), 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	store, err := boltstore.New(db, boltstore.WithBucket("idempotency-keys"))
	if err != nil {
		log.Fatal(err)
	}
	idem, err := idempotency.New(store)
	if err != nil {
		log.Fatal(err)
	}
	runs := 0
	h := idem.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs++
		w.WriteHeader(http.StatusCreated)
	}))
	for range 2 {
		r := httptest.NewRequest(http.MethodPost, "/orders", nil)
		r.Header.Set("Idempotency-Key", "order-1")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Printf("%d replayed=%q\n", w.Code, w.Header().Get("Idempotent-Replayed"))
	}
	fmt.Println("runs:", runs)
	// Output:
	// 201 replayed=""
	// 201 replayed="true"
	// runs: 1
}
