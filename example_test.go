package lifeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/output"
)

func ExampleNewPool() {
	pool, err := lifeline.NewPool(lifeline.WithTimeLimit(10*time.Second), lifeline.WithMaxActive(100))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Shutdown(context.Background())
	_, err = lifeline.NewPool(lifeline.WithTimeLimit(-time.Second))
	fmt.Println(errors.Is(err, lifeline.ErrInvalidOption))
	// Output: true
}

func ExamplePool_Middleware() {
	pool, _ := lifeline.NewPool()
	defer pool.Shutdown(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		fmt.Fprintf(w, "status %v", rn.Status())
	})
	// One pool wraps the whole server: every request is a run.
	srv := httptest.NewServer(pool.Middleware()(mux))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/hello")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The exact Content-Length is on the wire. For a body this short,
	// net/http computes it (a ResponseRecorder, which does not, shows none).
	fmt.Println(string(body), resp.ContentLength)
	// Output: status normal 13
}

// Routes adjust the run the outer middleware made: the same Middleware,
// used inside the router, never starts a second run.
func ExamplePool_Middleware_perRoute() {
	pool, _ := lifeline.NewPool(lifeline.WithTimeLimit(30 * time.Second))
	defer pool.Shutdown(context.Background())

	report := func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		limit, _ := rn.TimeLimit()
		fmt.Fprintf(w, "run %d, limit %v, ignores aborts: %v", rn.ID(), limit, rn.IgnoresUserAbort())
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/page", report)
	export := pool.Middleware(lifeline.WithTimeLimit(5*time.Minute), lifeline.WithIgnoreUserAbort(true), lifeline.WithRoute("export"))
	mux.Handle("/export", export(http.HandlerFunc(report)))
	h := pool.Middleware()(mux)

	for _, path := range []string{"/page", "/export"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		fmt.Println(rec.Body.String())
	}
	fmt.Println("runs:", pool.Stats().Accepted)
	// Output:
	// run 1, limit 30s, ignores aborts: false
	// run 2, limit 5m0s, ignores aborts: true
	// runs: 2
}

// A bad option is a programming error: Middleware panics while the routes
// are set up, as http.ServeMux.Handle does on a bad pattern, never while it
// serves a request.
func ExamplePool_Middleware_badOption() {
	pool, _ := lifeline.NewPool()
	defer pool.Shutdown(context.Background())
	defer func() {
		err, _ := recover().(error)
		fmt.Println(errors.Is(err, lifeline.ErrInvalidOption), err)
	}()
	pool.Middleware(lifeline.WithMaxActive(10)) // a pool option, not a route's
	// Output: true lifeline: invalid option: WithMaxActive applies to the pool, not to a route
}

func ExampleRun_Finish() {
	pool, _ := lifeline.NewPool()
	done := make(chan string)
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		io.WriteString(w, "We'll email you as soon as this is done.")
		rn.Finish() // the client has its answer now
		time.Sleep(10 * time.Millisecond)
		done <- "email sent, phase " + rn.Phase().String()
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Body.String())
	fmt.Println(<-done)
	pool.Shutdown(context.Background()) // waits for work after Finish
	// Output:
	// We'll email you as soon as this is done.
	// email sent, phase finished
}

func ExampleRun_RegisterShutdown() {
	pool, _ := lifeline.NewPool()
	defer pool.Shutdown(context.Background())
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		rn.RegisterShutdown(func(ctx context.Context, rn *lifeline.Run) {
			fmt.Fprintf(w, " shutdown saw %v", rn.Status())
		})
		io.WriteString(w, "main")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Body.String())
	// Output: main shutdown saw normal
}

func ExampleRun_SetTimeLimit() {
	pool, _ := lifeline.NewPool(lifeline.WithTimeLimit(20 * time.Millisecond))
	defer pool.Shutdown(context.Background())
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		rn.SetTimeLimit(0) // set_time_limit(0): unlimited from now on
		time.Sleep(50 * time.Millisecond)
		rn.Check()
		io.WriteString(w, "survived")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Body.String())
	// Output: survived
}

func ExampleRun_Check() {
	pool, _ := lifeline.NewPool(lifeline.WithTimeLimit(20 * time.Millisecond))
	defer pool.Shutdown(context.Background())
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		for {
			time.Sleep(time.Millisecond) // a slice of CPU-bound work
			rn.Check()                   // terminates the run once the limit expired
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	// Output: 503 lifeline: time limit exceeded
}

func ExampleRun_IgnoreUserAbort() {
	pool, _ := lifeline.NewPool()
	defer pool.Shutdown(context.Background())
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		prev := rn.IgnoreUserAbort(true)
		fmt.Println("previous:", prev, "now:", rn.IgnoresUserAbort())
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/order", nil))
	// Output: previous: false now: true
}

func ExampleRun_Context() {
	pool, _ := lifeline.NewPool(lifeline.WithTimeLimit(10 * time.Millisecond))
	defer pool.Shutdown(context.Background())
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // a query using the run context would stop here
		fmt.Println(errors.Is(context.Cause(r.Context()), lifeline.ErrTimeLimit))
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	// Output: true
}

func ExampleFromContext() {
	_, ok := lifeline.FromContext(context.Background())
	fmt.Println(ok)
	// Output: false
}

func ExamplePool_ConfigureServer() {
	pool, _ := lifeline.NewPool()
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: pool.Middleware()(http.NotFoundHandler())}
	pool.ConfigureServer(srv) // socket-level abort detection
	_ = srv                   // srv.ListenAndServe(), then srv.Shutdown and pool.Shutdown
}

func ExamplePool_Recent() {
	pool, _ := lifeline.NewPool()
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/job?id=1", nil))
	pool.Shutdown(context.Background()) // every run has ended and is recorded
	rec := pool.Recent()[0]
	fmt.Println(rec.Method, rec.URI, rec.Code, rec.Status)
	// Output: GET /job?id=1 202 normal
}

func ExampleStatus_String() {
	fmt.Println(lifeline.Aborted|lifeline.Timeout, lifeline.Status(3) == lifeline.Aborted|lifeline.Timeout)
	// Output: aborted|timeout true
}

func ExamplePool_Shutdown() {
	pool, _ := lifeline.NewPool()
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		rn.Finish()
		time.Sleep(20 * time.Millisecond) // background work
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	fmt.Println(pool.Shutdown(ctx), len(pool.Active()))
	// Output: <nil> 0
}

func ExamplePool_Active() {
	pool, _ := lifeline.NewPool()
	defer pool.Shutdown(context.Background())
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, ri := range pool.Active() {
			fmt.Println(ri.Method, ri.URI, ri.Phase, ri.TimeLimit)
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/report", nil))
	// Output: GET /report running 30s
}

func ExampleRun_BeforeRelease() {
	pool, _ := lifeline.NewPool()
	defer pool.Shutdown(context.Background())
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		rn.BeforeRelease(func(ctx context.Context) { fmt.Println("unlock the session") })
		rn.RegisterShutdown(func(ctx context.Context, rn *lifeline.Run) { fmt.Println("shutdown function") })
		fmt.Println("handler")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	// Output:
	// handler
	// shutdown function
	// unlock the session
}

func ExampleRun_Annotate() {
	pool, _ := lifeline.NewPool()
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		rn.Annotate("order", "A-17")
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/order", nil))
	pool.Shutdown(context.Background())
	fmt.Println(pool.Recent()[0].Notes["order"])
	// Output: A-17
}

func ExampleRun_Output() {
	pool, _ := lifeline.NewPool()
	defer pool.Shutdown(context.Background())
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		out := rn.Output()
		out.Start(nil, 0, output.StdFlags) // ob_start()
		io.WriteString(w, "draft")
		out.Clean() // ob_clean(): the draft never leaves
		io.WriteString(w, "final")
		n, _ := out.Length()
		fmt.Println("level", out.Level(), "length", n)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Body.String())
	// Output:
	// level 2 length 5
	// final
}

func ExampleRun_Status() {
	pool, _ := lifeline.NewPool()
	defer pool.Shutdown(context.Background())
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		fmt.Println(rn.Status(), rn.Aborted(), rn.Phase())
		limit, left := rn.TimeLimit()
		fmt.Println(limit, left > 0)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	// Output:
	// normal false running
	// 30s true
}

func ExampleWithMaxActive() {
	pool, err := lifeline.NewPool(lifeline.WithMaxActive(50), lifeline.WithQueueTimeout(2*time.Second))
	fmt.Println(err)
	defer pool.Shutdown(context.Background())
	// Output: <nil>
}

func ExampleWithRunEvent() {
	var mu sync.Mutex
	var kinds []string
	pool, _ := lifeline.NewPool(lifeline.WithRunEvent(func(ev lifeline.Event) {
		// Called at the moment it happens, on whichever goroutine saw it:
		// keep it short (a tracer adds a span event here).
		mu.Lock()
		kinds = append(kinds, ev.Kind.String())
		mu.Unlock()
	}))
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		rn.RegisterShutdown(func(ctx context.Context, rn *lifeline.Run) {})
		io.WriteString(w, "accepted")
		rn.Finish() // the event is reported here, before the work below
		// ... the work after the answer ...
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/order", nil))
	pool.Shutdown(context.Background()) // waits for the event functions
	fmt.Println(strings.Join(kinds, " "))
	// Output: finish shutdown_start shutdown_end
}
