package lifelinetest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/lifelinetest"
)

// The kit needs a *testing.T, which an Example does not get: the examples
// below read it from exampleT, and TestExamples runs each of them as a
// subtest with its own T (an Example without an Output comment is only
// compiled by go test), so they are tested code, not prose.
var exampleT *testing.T

// TestExamples runs the examples that need a *testing.T.
func TestExamples(t *testing.T) {
	for name, f := range map[string]func(){
		"Server_Leave": ExampleServer_Leave, "Pool_Do": ExamplePool_Do,
		"WithInMemoryNetwork": ExampleWithInMemoryNetwork, "Result_Record": ExampleResult_Record,
		"Pool_WaitIdle": ExamplePool_WaitIdle,
	} {
		t.Run(name, func(t *testing.T) {
			exampleT = t
			defer func() { exampleT = nil }()
			f()
		})
	}
}

// routes stands for the application's router: one pool wraps it all, and
// routes adjust their run.
func routes(pool *lifeline.Pool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /order", pool.Middleware(lifeline.WithRoute("order"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		rn.IgnoreUserAbort(true)          // the order is stored even if the client leaves
		time.Sleep(50 * time.Millisecond) // charging the card
		rn.Annotate("order", "A-17")
		w.WriteHeader(http.StatusCreated)
		rn.Finish()
		time.Sleep(10 * time.Millisecond) // the confirmation e-mail, after the answer
	})))
	mux.Handle("GET /report", pool.Middleware(lifeline.WithRoute("report"), lifeline.WithTimeLimit(30*time.Second))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(time.Minute): // a query that takes too long
			case <-r.Context().Done(): // the time limit cancels it
			}
			io.WriteString(w, "report")
		})))
	return pool.Middleware()(mux)
}

// A client that resets its connection before the answer: the order is still
// stored, and the record says the client left.
func ExampleServer_Leave() {
	t := exampleT // in a test: func TestOrderAbort(t *testing.T)
	p := lifelinetest.NewPool(t)
	srv := p.NewServer(routes(p.Pool))
	res := srv.Leave(httptest.NewRequest("POST", "/order", nil), lifelinetest.BeforeHeader(), lifelinetest.Reset)
	rec := res.Record() // waits for the run's end, work after Finish included
	if rec.Status != lifeline.Aborted || rec.Notes["order"] != "A-17" {
		t.Errorf("record %+v: want an aborted run that stored order A-17", rec)
	}
}

// A 30-second time limit tested in no time: in a synctest bubble the pool's
// timers run on the bubble's clock.
func ExamplePool_Do() {
	t := exampleT // in a test: func TestReportTimeLimit(t *testing.T)
	synctest.Test(t, func(t *testing.T) {
		p := lifelinetest.NewPool(t)
		resp := p.Do(routes(p.Pool), httptest.NewRequest("GET", "/report", nil))
		if resp.Code != http.StatusServiceUnavailable {
			t.Errorf("code %d, want 503", resp.Code)
		}
		if rec := resp.Record(); rec.Status != lifeline.Timeout || rec.Duration != 30*time.Second {
			t.Errorf("record %+v, want a timeout after 30s", rec)
		}
	})
}

// The real server and client in a synctest bubble, over an in-memory
// network.
func ExampleWithInMemoryNetwork() {
	t := exampleT // in a test: func TestReportTimeLimitServed(t *testing.T)
	synctest.Test(t, func(t *testing.T) {
		p := lifelinetest.NewPool(t)
		srv := p.NewServer(routes(p.Pool), lifelinetest.WithInMemoryNetwork())
		start := time.Now()
		res := srv.Get("/report")
		if res.Code != http.StatusServiceUnavailable || time.Since(start) != 30*time.Second {
			t.Errorf("got %d after %v, want 503 after 30s", res.Code, time.Since(start))
		}
	})
}

// Work after Finish: the client has its 201 at once; the record comes when
// the run ends.
func ExampleResult_Record() {
	t := exampleT // in a test: func TestOrderFinish(t *testing.T)
	p := lifelinetest.NewPool(t)
	srv := p.NewServer(routes(p.Pool))
	res := srv.Do(httptest.NewRequest("POST", "/order", nil))
	if res.Code != http.StatusCreated {
		t.Fatalf("code %d, want 201", res.Code)
	}
	if rec := res.Record(); !rec.Finished || rec.Duration < 60*time.Millisecond {
		t.Errorf("record %+v, want the work after Finish done", rec)
	}
}

// Clients that do not wait for their answer: every order is still stored,
// and the test waits for all the runs at once.
func ExamplePool_WaitIdle() {
	t := exampleT // in a test: func TestOrdersWithoutWaiting(t *testing.T)
	p := lifelinetest.NewPool(t)
	srv := p.NewServer(routes(p.Pool))
	for range 3 {
		srv.Leave(httptest.NewRequest("POST", "/order", nil), lifelinetest.BeforeHeader(), lifelinetest.Close)
	}
	p.WaitIdle(5 * time.Second) // the bound this test claims for the runs
	for _, rec := range p.Records() {
		if rec.Notes["order"] != "A-17" {
			t.Errorf("record %+v: the order was not stored", rec)
		}
	}
}

func ExampleHow() {
	for _, how := range []lifelinetest.How{lifelinetest.Close, lifelinetest.Reset, lifelinetest.Cancel, lifelinetest.Silent} {
		fmt.Println(how)
	}
	// Output:
	// close
	// reset
	// cancel
	// silent
}
