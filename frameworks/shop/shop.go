// Package shop is the shop scenario of docs/FRAMEWORKS.md: a chi router
// behind one lifeline pool, an item page, and an order handler that answers
// with Finish and confirms the order afterwards. Its tests are the "lines a
// user writes" figure: shop_test.go with package lifelinetest, and
// handmade_test.go, the same tests with a hand-made harness.
package shop

import (
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/lifeline-go/lifeline"
)

// Orders is where the shop stores orders.
type Orders interface {
	Store(id string) error
	Confirm(id string) error // the e-mail, after the answer
}

// Routes returns the shop's router, wrapped by pool.
func Routes(pool *lifeline.Pool, orders Orders) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Get("/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "item %s", chi.URLParam(r, "id"))
	})
	r.With(pool.Middleware(lifeline.WithRoute("order"), lifeline.WithTimeLimit(10*time.Second))).
		Post("/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
			rn, _ := lifeline.FromContext(r.Context())
			rn.IgnoreUserAbort(true) // a paid order is stored even if the client leaves
			id := chi.URLParam(r, "id")
			if err := orders.Store(id); err != nil {
				http.Error(w, "cannot store the order", http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusCreated)
			rn.Finish()
			if err := orders.Confirm(id); err == nil {
				rn.Annotate("confirmed", id)
			}
		})
	return pool.Middleware()(r)
}
