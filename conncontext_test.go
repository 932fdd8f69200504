package lifeline_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/cstest"
)

// TestFromContextOnConfiguredServer: on a server set up by ConfigureServer,
// whose connection contexts hold the detector's watch, FromContext finds
// no run for a request outside the middleware, and finds the one run of a
// request inside it, from the handler and from a middleware nested in it.
func TestFromContextOnConfiguredServer(t *testing.T) {
	cstest.Run(t, func(t *testing.T, m cstest.Mode) {
		p := newPool(t)
		type seen struct{ outside, outer, inner, same bool }
		got := make(chan seen, 1)
		var s seen
		var outerRun *lifeline.Run
		inner := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn, ok := lifeline.FromContext(r.Context())
			s.inner = ok
			s.same = ok && rn == outerRun
			io.WriteString(w, "ok")
			got <- s
		}))
		outer := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			outerRun, s.outer = lifeline.FromContext(r.Context())
			inner.ServeHTTP(w, r)
		}))
		h := handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, s.outside = lifeline.FromContext(r.Context())
			outer.ServeHTTP(w, r)
		})
		srv := cstest.Start(t, m, h, p.ConfigureServer)
		res, err := srv.Client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(body) != "ok" {
			t.Fatalf("body %q, want ok", body)
		}
		if g, want := <-got, (seen{outside: false, outer: true, inner: true, same: true}); g != want {
			t.Errorf("FromContext found %+v, want %+v", g, want)
		}
		if n := p.Stats().Accepted; n != 1 {
			t.Errorf("runs started = %d, want 1", n)
		}
	})
}
