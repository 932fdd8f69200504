package frameworks_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/lifelinetest"
)

// recipe is one router's wiring of the shop app.
type recipe struct {
	name string
	app  func(pool *lifeline.Pool, log *logBuffer) http.Handler
	// missingCode and panicCode are the router's own answers.
	missingCode, panicCode int
}

var recipes = []recipe{
	{"servemux", func(p *lifeline.Pool, _ *logBuffer) http.Handler { return serveMuxApp(p) }, http.StatusNotFound, http.StatusInternalServerError},
	{"chi", func(p *lifeline.Pool, _ *logBuffer) http.Handler { return chiApp(p) }, http.StatusNotFound, http.StatusInternalServerError},
	{"gin", func(p *lifeline.Pool, log *logBuffer) http.Handler { return ginApp(p, log) }, http.StatusNotFound, http.StatusInternalServerError},
	{"echo", func(p *lifeline.Pool, log *logBuffer) http.Handler { return echoApp(p, log) }, http.StatusNotFound, http.StatusInternalServerError},
	{"gorilla", func(p *lifeline.Pool, log *logBuffer) http.Handler { return gorillaApp(p, log) }, http.StatusNotFound, http.StatusInternalServerError},
}

// TestRecipes runs every route of every recipe over HTTP/1 and HTTP/2 with
// a real client, and checks both what the client got and the run's record.
func TestRecipes(t *testing.T) {
	for _, rc := range recipes {
		for _, h2 := range []bool{false, true} {
			name := rc.name + "/h1"
			var opts []lifelinetest.Option
			if h2 {
				name, opts = rc.name+"/h2c", []lifelinetest.Option{lifelinetest.WithHTTP2()}
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				testRecipe(t, rc, opts)
			})
		}
	}
}

func testRecipe(t *testing.T, rc recipe, opts []lifelinetest.Option) {
	p := lifelinetest.NewPool(t)
	log := new(logBuffer)
	srv := p.NewServer(rc.app(p.Pool, log), opts...)

	t.Run("path parameter", func(t *testing.T) {
		res := srv.Get("/items/7")
		if res.Err != nil || res.Code != http.StatusOK || res.Body != "item 7" {
			t.Errorf("GET /items/7 = %d %q, %v; want 200 \"item 7\"", res.Code, res.Body, res.Err)
		}
		if rec := res.Record(); rec.Status != lifeline.Normal || rec.Code != http.StatusOK {
			t.Errorf("record %+v, want a normal 200", rec)
		}
	})
	t.Run("error handler", func(t *testing.T) {
		res := srv.Get("/missing")
		if res.Err != nil || res.Code != rc.missingCode {
			t.Errorf("GET /missing = %d %q, %v; want the router's %d", res.Code, res.Body, res.Err, rc.missingCode)
		}
		if rec := res.Record(); rec.Code != rc.missingCode {
			t.Errorf("record code %d, want %d", rec.Code, rc.missingCode)
		}
	})
	t.Run("recoverer", func(t *testing.T) {
		res := srv.Get("/panic")
		if res.Err != nil || res.Code != rc.panicCode {
			t.Errorf("GET /panic = %d %q, %v; want %d", res.Code, res.Body, res.Err, rc.panicCode)
		}
		res.Record()
	})
	t.Run("finish", func(t *testing.T) {
		res := srv.Do(httptest.NewRequest("POST", "/orders/9", nil))
		if res.Err != nil || res.Code != http.StatusCreated || res.Body != "order 9 accepted" {
			t.Errorf("POST /orders/9 = %d %q, %v; want 201 \"order 9 accepted\"", res.Code, res.Body, res.Err)
		}
		if out := res.Outcome(); !out.Finished {
			t.Errorf("outcome %+v: the answer did not go out with Finish", out)
		}
		// The confirmation read the router's path parameter after Finish,
		// while the router had already returned to net/http: -race checks it.
		if rec := res.Record(); !rec.Finished || rec.Notes["confirmed"] != "9" {
			t.Errorf("record %+v, want the order confirmed after Finish", rec)
		}
	})
	logged := len(log.String()) // the recoverer's report of /panic
	t.Run("time limit", func(t *testing.T) {
		res := srv.Get("/slow/3")
		if res.Err != nil || res.Code != http.StatusServiceUnavailable {
			t.Errorf("GET /slow/3 = %d %q, %v; want 503", res.Code, res.Body, res.Err)
		}
		rec := res.Record()
		if rec.Status != lifeline.Timeout || rec.Route != "slow" || rec.Panicked {
			t.Errorf("record %+v, want a timeout of route slow, no panic", rec)
		}
	})
	t.Run("client abort", func(t *testing.T) {
		res := srv.Leave(httptest.NewRequest("GET", "/wait/1", nil), lifelinetest.BeforeHeader(), lifelinetest.Reset)
		rec := res.Record()
		if rec.Status != lifeline.Aborted || rec.Panicked {
			t.Errorf("record %+v, want an aborted run, no panic", rec)
		}
	})
	// A termination is not a crash: no recoverer logs a stack for it.
	if s := log.String()[logged:]; stackTrace.MatchString(s) {
		t.Errorf("the recoverer logged a panic for a termination:\n%s", abbrev(s))
	}
}
