package status_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/status"
	"github.com/prometheus/client_golang/prometheus"
)

// serve sends a GET of target to h from a loopback client, with Host
// localhost:8080, and returns the response.
func serve(h http.Handler, target string, header ...string) *http.Response {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Host = "localhost:8080"
	r.RemoteAddr = "127.0.0.1:50000"
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// settle ends the pool, so that every run's record is stored, as a server
// does at shutdown.
func settle(pool *lifeline.Pool) {
	if err := pool.Shutdown(context.Background()); err != nil {
		fmt.Println(err)
	}
}

// printMetrics prints the lines of a metrics response that start with one
// of the prefixes.
func printMetrics(resp *http.Response, prefixes ...string) {
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		for _, p := range prefixes {
			if strings.HasPrefix(sc.Text(), p) {
				fmt.Println(sc.Text())
			}
		}
	}
}

func ExampleNew() {
	pool, err := lifeline.NewPool()
	if err != nil {
		fmt.Println(err)
		return
	}
	st, err := status.New(pool)
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/", pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	})))
	mux.Handle("/status", st)            // not wrapped: the status page is not a run
	mux.Handle("/metrics", st.Metrics()) // Prometheus

	serve(mux, "/hello")
	settle(pool)

	var snap status.Snapshot
	resp := serve(mux, "/status?json")
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Header.Get("Content-Type"))
	fmt.Println("accepted:", snap.AcceptedRuns, "ended with status 0:", snap.EndedByStatus["0"])
	// Output:
	// application/json
	// accepted: 1 ended with status 0: 1
}

func ExampleHandler_ServeHTTP() {
	pool, _ := lifeline.NewPool()
	st, _ := status.New(pool)
	for _, target := range []string{"/status", "/status?json", "/status?json&full"} {
		fmt.Println(target, serve(st, target).Header.Get("Content-Type"))
	}
	// A client that is not on loopback is refused (see Access).
	r := httptest.NewRequest(http.MethodGet, "/status", nil)
	r.Host = "localhost:8080"
	r.RemoteAddr = "203.0.113.7:41000"
	w := httptest.NewRecorder()
	st.ServeHTTP(w, r)
	fmt.Println("from 203.0.113.7:", w.Code)
	// Output:
	// /status text/html; charset=utf-8
	// /status?json application/json
	// /status?json&full application/json
	// from 203.0.113.7: 403
}

func ExampleHandler_Snapshot() {
	pool, _ := lifeline.NewPool()
	h := pool.Middleware(lifeline.WithRoute("order"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		fmt.Fprintln(w, "order received")
		_ = rn.Finish() // the client has its answer
		// ... and the run goes on: send the confirmation mail.
	}))
	serve(h, "/order?id=42")
	settle(pool)

	st, _ := status.New(pool)
	rec := st.Snapshot(true).Recent[0]
	fmt.Println(rec.Route, rec.URI, rec.Status, rec.Code, rec.Finished)
	// Output: order /order 0 200 true
}

func ExampleHandler_Metrics() {
	pool, _ := lifeline.NewPool()
	serve(pool.Middleware(lifeline.WithRoute("missing"))(http.NotFoundHandler()), "/nothing")
	settle(pool)

	st, _ := status.New(pool)
	printMetrics(serve(st.Metrics(), "/metrics"), "lifeline_runs_ended_total", "lifeline_run_duration_seconds_count")
	// Output:
	// lifeline_run_duration_seconds_count{route="missing"} 1
	// lifeline_runs_ended_total{status="0"} 1
	// lifeline_runs_ended_total{status="1"} 0
	// lifeline_runs_ended_total{status="2"} 0
	// lifeline_runs_ended_total{status="3"} 0
}

func ExampleNewMetrics() {
	pool, _ := lifeline.NewPool()
	m, err := status.NewMetrics(pool, status.WithNamespace("shop"))
	if err != nil {
		fmt.Println(err)
		return
	}
	serve(pool.Middleware()(http.NotFoundHandler()), "/x")
	settle(pool)
	printMetrics(serve(m, "/metrics"), "shop_runs_accepted_total")
	// Output: shop_runs_accepted_total 1
}

func ExampleMetrics_Registry() {
	pool, _ := lifeline.NewPool()
	m, _ := status.NewMetrics(pool)
	orders := prometheus.NewCounter(prometheus.CounterOpts{Name: "shop_orders_total", Help: "Orders taken."})
	m.Registry().MustRegister(orders)
	orders.Add(3)
	printMetrics(serve(m, "/metrics"), "shop_orders_total")
	// Output: shop_orders_total 3
}

func ExampleMetrics_Collector() {
	pool, _ := lifeline.NewPool()
	m, _ := status.NewMetrics(pool)
	reg := prometheus.NewRegistry() // an application's own registry
	reg.MustRegister(m.Collector())
	fams, err := reg.Gather()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(fams[0].GetName())
	// Output: lifeline_aborts_total
}

func ExampleLogRecords() {
	pool, _ := lifeline.NewPool()
	h := pool.Middleware(lifeline.WithRoute("cart"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		rn.Annotate("session", "locked #a1b2c3")
		fmt.Fprintln(w, "cart")
	}))
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" || a.Key == "finished_after" {
				return slog.Attr{} // varies from run to run
			}
			return a
		},
	}))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- status.LogRecords(ctx, pool, logger, slog.LevelInfo, time.Second) }()

	serve(h, "/cart?add=42")
	settle(pool)
	cancel()      // LogRecords logs what ended since its last poll, then returns
	err := <-done // the goroutine's wait
	fmt.Println("LogRecords:", err)
	// Output:
	// level=INFO msg="lifeline: run ended" id=1 route=cart method=GET uri=/cart status=0 status_text=normal cause="" code=200 bytes_sent=5 finished=false shutdown_funcs=0 runaway=false panicked=false ignore_user_abort=false notes.session="locked #a1b2c3"
	// LogRecords: <nil>
}

func ExampleWithBearerToken() {
	pool, _ := lifeline.NewPool()
	st, err := status.New(pool, status.WithBearerToken("c2VjcmV0LXRva2Vu"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("no token:", serve(st, "/status?json").StatusCode)
	fmt.Println("token:", serve(st, "/status?json", "Authorization", "Bearer c2VjcmV0LXRva2Vu").StatusCode)
	fmt.Println("metrics, no token:", serve(st.Metrics(), "/metrics").StatusCode)
	// Output:
	// no token: 401
	// token: 200
	// metrics, no token: 401
}

func ExampleWithQueryStrings() {
	pool, _ := lifeline.NewPool()
	serve(pool.Middleware()(http.NotFoundHandler()), "/reset?token=9f8e7d")
	settle(pool)
	hidden, _ := status.New(pool)
	shown, _ := status.New(pool, status.WithQueryStrings(true))
	fmt.Println(hidden.Snapshot(true).Recent[0].URI)
	fmt.Println(shown.Snapshot(true).Recent[0].URI)
	// Output:
	// /reset
	// /reset?token=9f8e7d
}

func ExampleWithRefresh() {
	pool, _ := lifeline.NewPool()
	st, _ := status.New(pool, status.WithRefresh(5*time.Second))
	sc := bufio.NewScanner(serve(st, "/status").Body)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "http-equiv") || strings.Contains(sc.Text(), "data-refresh-ms") {
			fmt.Println(sc.Text())
		}
	}
	// Output:
	// <noscript><meta http-equiv="refresh" content="5"></noscript>
	// <body data-refresh-ms="5000">
}

func ExampleWithPoolName() {
	pool, _ := lifeline.NewPool()
	st, _ := status.New(pool, status.WithPoolName("checkout"))
	fmt.Println(st.Snapshot(false).Pool)
	// Output: checkout
}

func ExampleWithNamespace() {
	pool, _ := lifeline.NewPool()
	m, _ := status.NewMetrics(pool, status.WithNamespace("php_like"))
	printMetrics(serve(m, "/metrics"), "php_like_runs_active ")
	// Output: php_like_runs_active 0
}

func ExampleWithBuckets() {
	pool, _ := lifeline.NewPool()
	serve(pool.Middleware()(http.NotFoundHandler()), "/")
	settle(pool)
	m, _ := status.NewMetrics(pool, status.WithBuckets(0.1, 1, 10))
	printMetrics(serve(m, "/metrics"), "lifeline_run_duration_seconds_bucket")
	// Output:
	// lifeline_run_duration_seconds_bucket{route="",le="0.1"} 1
	// lifeline_run_duration_seconds_bucket{route="",le="1"} 1
	// lifeline_run_duration_seconds_bucket{route="",le="10"} 1
	// lifeline_run_duration_seconds_bucket{route="",le="+Inf"} 1
}

func ExampleDefaultBuckets() {
	fmt.Println(status.DefaultBuckets())
	// Output: [0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30 60 120]
}

// A Feed passes every ended run to the metrics as it ends: with a ring of
// one recent run, three runs between two scrapes are all observed. The
// pool's hook here also runs a function of the application's own.
func ExampleFeed() {
	feed := status.NewFeed()
	ended := make(chan lifeline.Record, 3)
	pool, err := lifeline.NewPool(lifeline.WithRecentRuns(1), lifeline.WithRunEnded(func(rec lifeline.Record) {
		feed.RunEnded(rec)
		ended <- rec // the application's own hook
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer settle(pool)
	metrics, err := status.NewMetrics(pool, status.WithFeed(feed))
	if err != nil {
		fmt.Println(err)
		return
	}
	hello := pool.Middleware(lifeline.WithRoute("hello"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	}))
	for range 3 {
		serve(hello, "/hello")
		<-ended
	}
	sc := bufio.NewScanner(serve(metrics, "/metrics").Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "lifeline_run_duration_seconds_count") ||
			strings.HasPrefix(line, "lifeline_status_records_missed_total") {
			fmt.Println(line)
		}
	}
	// Output:
	// lifeline_run_duration_seconds_count{route="hello"} 3
	// lifeline_status_records_missed_total 0
}

func ExampleWithSection() {
	pool, _ := lifeline.NewPool()
	defer settle(pool)
	queued := map[string]int{"available": 2, "retryable": 1} // an application's job queue, say
	st, err := status.New(pool,
		status.WithSection("jobs", func(ctx context.Context) ([]status.Field, error) {
			return []status.Field{
				{Name: "available", Value: strconv.Itoa(queued["available"])},
				{Name: "retryable", Value: strconv.Itoa(queued["retryable"])},
			}, nil
		}),
		status.WithLogger(slog.New(slog.DiscardHandler)), // where a failing section's detail goes
		status.WithSection("mail", func(ctx context.Context) ([]status.Field, error) {
			return nil, errors.New("smtp: connection refused") // logged, not shown
		}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	var snap status.Snapshot
	if err := json.NewDecoder(serve(st, "/status?json").Body).Decode(&snap); err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range snap.Sections {
		fmt.Print(s.Name, ":")
		for _, f := range s.Fields {
			fmt.Print(" ", f.Name, "=", f.Value)
		}
		fmt.Println(" error:", strings.HasPrefix(s.Error, "section unavailable (id "))
	}
	// Output:
	// jobs: available=2 retryable=1 error: false
	// mail: error: true
}

func ExampleHandler_SnapshotContext() {
	pool, _ := lifeline.NewPool()
	defer settle(pool)
	st, _ := status.New(pool, status.WithSection("build", func(context.Context) ([]status.Field, error) {
		return []status.Field{{Name: "version", Value: "v1.2.3"}}, nil
	}))
	fmt.Println(len(st.Snapshot(false).Sections), st.SnapshotContext(context.Background(), false).Sections[0].Fields[0].Value)
	// Output: 0 v1.2.3
}
