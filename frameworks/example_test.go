package frameworks_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/lifeline-go/lifeline"
)

// shopVisit serves app on a real loopback server, with the pool's abort
// detection, and prints what a client gets from an item page, an order and
// the slow route; then it waits for every run (the order's confirmation
// after Finish included) and prints the order's record.
func shopVisit(pool *lifeline.Pool, app http.Handler) {
	srv := httptest.NewUnstartedServer(app)
	pool.ConfigureServer(srv.Config)
	srv.Start()
	for _, req := range []struct{ method, path string }{{"GET", "/items/7"}, {"POST", "/orders/9"}, {"GET", "/slow/1"}} {
		r, _ := http.NewRequest(req.method, srv.URL+req.path, nil)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			fmt.Println(err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s %s: %d %q\n", req.method, req.path, resp.StatusCode, body)
	}
	srv.Close()
	pool.Shutdown(context.Background()) // waits for the work after Finish
	for _, rec := range pool.Recent() {
		if rec.Finished {
			fmt.Printf("order confirmed %s after Finish\n", rec.Notes["confirmed"])
		}
	}
}

func Example_serveMux() {
	pool, _ := lifeline.NewPool()
	shopVisit(pool, serveMuxApp(pool))
	// Output:
	// GET /items/7: 200 "item 7"
	// POST /orders/9: 201 "order 9 accepted"
	// GET /slow/1: 503 "lifeline: time limit exceeded\n"
	// order confirmed 9 after Finish
}

func Example_chi() {
	pool, _ := lifeline.NewPool()
	shopVisit(pool, chiApp(pool))
	// Output:
	// GET /items/7: 200 "item 7"
	// POST /orders/9: 201 "order 9 accepted"
	// GET /slow/1: 503 "lifeline: time limit exceeded\n"
	// order confirmed 9 after Finish
}

func Example_gin() {
	pool, _ := lifeline.NewPool()
	shopVisit(pool, ginApp(pool, io.Discard))
	// Output:
	// GET /items/7: 200 "item 7"
	// POST /orders/9: 201 "order 9 accepted"
	// GET /slow/1: 503 "lifeline: time limit exceeded\n"
	// order confirmed 9 after Finish
}

func Example_echo() {
	pool, _ := lifeline.NewPool()
	shopVisit(pool, echoApp(pool, io.Discard))
	// Output:
	// GET /items/7: 200 "item 7"
	// POST /orders/9: 201 "order 9 accepted"
	// GET /slow/1: 503 "lifeline: time limit exceeded\n"
	// order confirmed 9 after Finish
}

func Example_gorilla() {
	pool, _ := lifeline.NewPool()
	shopVisit(pool, gorillaApp(pool, new(logBuffer)))
	// Output:
	// GET /items/7: 200 "item 7"
	// POST /orders/9: 201 "order 9 accepted"
	// GET /slow/1: 503 "lifeline: time limit exceeded\n"
	// order confirmed 9 after Finish
}
