package stacktest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/compress"
	"github.com/lifeline-go/lifeline/idempotency"
	idemstore "github.com/lifeline-go/lifeline/idempotency/memstore"
	"github.com/lifeline-go/lifeline/internal/cstest"
	"github.com/lifeline-go/lifeline/internal/pooltest"
	"github.com/lifeline-go/lifeline/session"
	sessstore "github.com/lifeline-go/lifeline/session/memstore"
)

// TestEndsMatrix runs every way a run can end (normal, Finish, panic, client
// abort, time limit, runaway) behind every wrapper a service puts inside the
// pool (none, compress, session, idempotency, a recover middleware) over
// every inner ResponseWriter (HTTP/1, HTTP/2, h2c, httptest.ResponseRecorder),
// and checks what the client received, what the run recorded, and that
// nothing is left running (issue 13 §6).
func TestEndsMatrix(t *testing.T) {
	const (
		limit = 100 * time.Millisecond
		grace = 100 * time.Millisecond
		body  = "hello, world\n"
	)
	wrappers := []struct {
		name string
		wrap func(t *testing.T, h http.Handler) http.Handler
	}{
		{"none", func(t *testing.T, h http.Handler) http.Handler { return h }},
		{"compress", func(t *testing.T, h http.Handler) http.Handler {
			c, err := compress.New(compress.WithMinSize(0))
			if err != nil {
				t.Fatal(err)
			}
			return c.Handler(h)
		}},
		{"session", func(t *testing.T, h http.Handler) http.Handler {
			ss, _ := sessstore.New()
			sm, err := session.New(ss)
			if err != nil {
				t.Fatal(err)
			}
			return sm.Handler(h)
		}},
		{"idempotency", func(t *testing.T, h http.Handler) http.Handler {
			is, _ := idemstore.New()
			im, err := idempotency.New(is)
			if err != nil {
				t.Fatal(err)
			}
			return im.Handler(h)
		}},
		{"recoverer", func(t *testing.T, h http.Handler) http.Handler { return pooltest.Swallow(h) }},
	}
	type result struct {
		code int
		body string
		err  error // reading the response
	}
	ends := []struct {
		name    string
		network bool // needs a real client that can leave
		h       func(started chan<- struct{}) http.HandlerFunc
		check   func(t *testing.T, res result, rec lifeline.Record, wrapper string)
	}{
		{name: "normal", h: func(chan<- struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }
		}, check: func(t *testing.T, res result, rec lifeline.Record, _ string) {
			if res.err != nil || res.code != 200 || res.body != body {
				t.Errorf("got %d %q %v, want 200 %q", res.code, res.body, res.err, body)
			}
			if rec.Status != lifeline.Normal || rec.Code != 200 {
				t.Errorf("Record = %+v, want Normal, 200", rec)
			}
		}},
		{name: "finish", h: func(chan<- struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, body)
				runOf(r).Finish()
				io.WriteString(w, "discarded")
				time.Sleep(10 * time.Millisecond)
			}
		}, check: func(t *testing.T, res result, rec lifeline.Record, _ string) {
			if res.err != nil || res.code != 200 || res.body != body {
				t.Errorf("got %d %q %v, want 200 %q", res.code, res.body, res.err, body)
			}
			if !rec.Finished || rec.Status != lifeline.Normal {
				t.Errorf("Record = %+v, want Finished, Normal", rec)
			}
		}},
		{name: "panic", h: func(chan<- struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "partial")
				panic("boom")
			}
		}, check: func(t *testing.T, res result, rec lifeline.Record, wrapper string) {
			// Lifeline's own 500 drops the buffered output; a recoverer's
			// answer is its own business (this one writes after it).
			if res.code != 500 || wrapper != "recoverer" && strings.Contains(res.body, "partial") {
				t.Errorf("got %d %q %v, want a 500 without the partial body", res.code, res.body, res.err)
			}
			if wrapper != "recoverer" && !rec.Panicked {
				t.Errorf("Record = %+v, want Panicked", rec)
			}
		}},
		{name: "time limit", h: func(chan<- struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "partial")
				rn := runOf(r)
				for {
					rn.Check()
					time.Sleep(time.Millisecond)
				}
			}
		}, check: func(t *testing.T, res result, rec lifeline.Record, _ string) {
			if res.err != nil || res.code != 503 || strings.Contains(res.body, "partial") {
				t.Errorf("got %d %q %v, want the 503 timeout response", res.code, res.body, res.err)
			}
			if rec.Status != lifeline.Timeout || rec.Panicked || rec.Runaway {
				t.Errorf("Record = %+v, want Timeout, no panic, no runaway", rec)
			}
		}},
		{name: "runaway", h: func(chan<- struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(3 * (limit + grace)) // ignores its context, never checks
				io.WriteString(w, "too late")
			}
		}, check: func(t *testing.T, res result, rec lifeline.Record, _ string) {
			if res.err != nil || res.code != 503 || strings.Contains(res.body, "too late") {
				t.Errorf("got %d %q %v, want the 503 timeout response", res.code, res.body, res.err)
			}
			if !rec.Runaway || rec.Status&lifeline.Timeout == 0 {
				t.Errorf("Record = %+v, want Runaway with Timeout", rec)
			}
		}},
		{name: "client abort", network: true, h: func(started chan<- struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				close(started)
				<-r.Context().Done()
				io.WriteString(w, body) // terminated here
			}
		}, check: func(t *testing.T, res result, rec lifeline.Record, wrapper string) {
			if res.err == nil {
				t.Errorf("got %d %q, want the request cancelled", res.code, res.body)
			}
			want := lifeline.Aborted
			if wrapper == "idempotency" {
				// It ignores user aborts so the answer is recorded for a
				// retry: the run goes on to its time limit.
				want |= lifeline.Timeout
			}
			if rec.Status != want || rec.Panicked || rec.Code != 0 {
				t.Errorf("Record = %+v, want Aborted, Code 0, no panic", rec)
			}
		}},
	}
	modes := append([]cstest.Mode{}, cstest.Modes...)
	modes = append(modes, "recorder")
	n := 0
	for _, m := range modes {
		for _, wr := range wrappers {
			for _, end := range ends {
				if end.network && m == "recorder" {
					continue
				}
				n++
				key := fmt.Sprint("k", n)
				t.Run(fmt.Sprintf("%s/%s/%s", m, wr.name, end.name), func(t *testing.T) {
					p := pooltest.New(t, lifeline.WithTimeLimit(limit), lifeline.WithGracePeriod(grace))
					started := make(chan struct{})
					h := p.Middleware()(wr.wrap(t, end.h(started)))
					var res result
					if m == "recorder" {
						rec := httptest.NewRecorder()
						req := httptest.NewRequest("POST", "/", nil)
						req.Header.Set("Idempotency-Key", key)
						h.ServeHTTP(rec, req)
						res = result{code: rec.Code, body: rec.Body.String()}
					} else {
						srv := cstest.Start(t, m, h, p.ConfigureServer)
						ctx, cancel := context.WithCancel(context.Background())
						defer cancel()
						if end.network {
							go func() { <-started; cancel() }()
						}
						req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL, nil)
						req.Header.Set("Idempotency-Key", key)
						resp, err := srv.Client.Do(req)
						res.err = err
						if err == nil {
							b, err := io.ReadAll(resp.Body)
							resp.Body.Close()
							res = result{code: resp.StatusCode, body: string(b), err: err}
						}
					}
					p.WaitIdle(5 * time.Second)
					end.check(t, res, p.Recent()[0], wr.name)
				})
			}
		}
	}
}

// runOf returns r's run.
func runOf(r *http.Request) *lifeline.Run {
	rn, ok := lifeline.FromContext(r.Context())
	if !ok {
		panic("no run")
	}
	return rn
}
