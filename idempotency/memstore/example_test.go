package memstore_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/idempotency/memstore"
)

func ExampleNew() {
	store, err := memstore.New()
	if err != nil {
		panic(err)
	}
	idem, err := idempotency.New(store)
	if err != nil {
		panic(err)
	}
	orders := 0
	h := idem.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		orders++
		fmt.Fprintf(w, "order %d placed\n", orders)
	}))
	for range 2 {
		req := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader("item=book"))
		req.Header.Set("Idempotency-Key", `"order-form-7f3a"`)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " replayed=", rec.Header().Get("Idempotent-Replayed") == "true", " ", rec.Body.String())
	}
	fmt.Println("orders placed:", orders)
	// Output:
	// 200 replayed=false order 1 placed
	// 200 replayed=true order 1 placed
	// orders placed: 1
}

func ExampleWithCleanupInterval() {
	store, err := memstore.New(memstore.WithCleanupInterval(10 * time.Minute))
	if err != nil {
		panic(err)
	}
	fmt.Println(store.Len())
	// Output: 0
}
