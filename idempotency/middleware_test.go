package idempotency_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/internal/idemtest"
)

// TestReplay is the seed's double click: the second submission with the
// same key gets the first one's response and places no order.
func TestReplay(t *testing.T) {
	var o idemtest.Orders
	h := idemtest.NewMiddleware(t, newMem(t)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "flash=order-placed")
		w.Header().Set("Date", "Mon, 02 Jan 2006 15:04:05 GMT")
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "1")
		w.Header().Set("Cache-Control", "private")
		o.ServeHTTP(w, r)
	}))
	first := serve(h, request("POST", "/orders", `"k1"`, "book"))
	if first.Code != 201 || first.Body.String() != "order 1: book" || first.Header().Get("Idempotent-Replayed") != "" {
		t.Fatalf("first = %d %q %v, want 201 \"order 1: book\" without the replay header", first.Code, first.Body, first.Header())
	}
	for i := range 3 {
		again := serve(h, request("POST", "/orders", "k1", "book")) // the bare form is the same key
		if again.Code != 201 || again.Body.String() != "order 1: book" {
			t.Fatalf("replay %d = %d %q, want 201 \"order 1: book\"", i, again.Code, again.Body)
		}
		h := again.Header()
		for field, want := range map[string]string{
			"Idempotent-Replayed": "true",
			"Location":            "/orders/1",
			"Content-Type":        "text/plain; charset=utf-8",
			"Cache-Control":       "private",
			"Content-Length":      "13",
			"Set-Cookie":          "",
			"Date":                "",
			"Connection":          "",
			"X-Hop":               "",
		} {
			if got := h.Get(field); got != want {
				t.Errorf("replay %d: %s = %q, want %q", i, field, got, want)
			}
		}
	}
	if n := o.N.Load(); n != 1 {
		t.Fatalf("%d orders placed, want 1", n)
	}
}

func TestMismatch(t *testing.T) {
	var o idemtest.Orders
	h := idemtest.NewMiddleware(t, newMem(t)).Handler(&o)
	if w := serve(h, request("POST", "/orders?x=1", "k", "book")); w.Code != 201 {
		t.Fatalf("first = %d, want 201", w.Code)
	}
	tests := []struct {
		name                 string
		method, target, body string
	}{
		{"body", "POST", "/orders?x=1", "pen"},
		{"path", "POST", "/carts?x=1", "book"},
		{"query", "POST", "/orders?x=2", "book"},
		{"method", "PATCH", "/orders?x=1", "book"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, serve(h, request(tt.method, tt.target, "k", tt.body)), 422, "already used for a different request")
		})
	}
	if n := o.N.Load(); n != 1 {
		t.Fatalf("%d orders placed, want 1", n)
	}
}

// TestInProgress: a duplicate that arrives while the first run works gets
// 409, and the handler is not run for it.
func TestInProgress(t *testing.T) {
	var o idemtest.Orders
	entered, proceed := make(chan struct{}), make(chan struct{})
	h := idemtest.NewMiddleware(t, newMem(t)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-proceed
		o.ServeHTTP(w, r)
	}))
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- serve(h, request("POST", "/orders", "k", "book")) }()
	<-entered
	wantProblem(t, serve(h, request("POST", "/orders", "k", "book")), 409, "still being processed")
	wantProblem(t, serve(h, request("POST", "/orders", "k", "other")), 422, "different request")
	close(proceed)
	if w := <-done; w.Code != 201 {
		t.Fatalf("first = %d, want 201", w.Code)
	}
	if w := serve(h, request("POST", "/orders", "k", "book")); w.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("after the run: %d %v, want a replay", w.Code, w.Header())
	}
}

func TestKeyErrors(t *testing.T) {
	tests := []struct {
		name   string
		opts   []idempotency.Option
		header []string
		detail string
	}{
		{"malformed", nil, []string{`"unterminated`}, "Idempotency-Key: idempotency: invalid key: missing closing quote"},
		{"too long", nil, []string{strings.Repeat("k", 256)}, "256 bytes long, the limit is 255"},
		{"space", nil, []string{"a b"}, "not visible ASCII"},
		{"two fields", nil, []string{"a", "b"}, "2 Idempotency-Key fields; send exactly one"},
		{"missing but required", []idempotency.Option{idempotency.WithRequireKey(true)}, nil, "requires an Idempotency-Key header"},
		{"custom header", []idempotency.Option{idempotency.WithHeader("X-Request-Key"), idempotency.WithRequireKey(true)}, nil, "requires an X-Request-Key header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o idemtest.Orders
			h := idemtest.NewMiddleware(t, newMem(t), tt.opts...).Handler(&o)
			r := request("POST", "/orders", "", "book")
			for _, v := range tt.header {
				r.Header.Add("Idempotency-Key", v)
			}
			wantProblem(t, serve(h, r), 400, tt.detail)
			if n := o.N.Load(); n != 0 {
				t.Fatalf("the handler ran %d times, want 0", n)
			}
		})
	}
}

// TestPassThrough: requests the middleware does not protect run every
// time, untouched.
func TestPassThrough(t *testing.T) {
	tests := []struct {
		name string
		opts []idempotency.Option
		req  func() *http.Request
	}{
		{"no key", nil, func() *http.Request { return request("POST", "/orders", "", "book") }},
		{"GET with key", nil, func() *http.Request { return request("GET", "/orders", "k", "") }},
		{"PUT with key", nil, func() *http.Request { return request("PUT", "/orders/1", "k", "book") }},
		{"POST not in WithMethods", []idempotency.Option{idempotency.WithMethods("PUT")}, func() *http.Request { return request("POST", "/orders", "k", "book") }},
		{"other header", []idempotency.Option{idempotency.WithHeader("X-Key")}, func() *http.Request { return request("POST", "/orders", "k", "book") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o idemtest.Orders
			h := idemtest.NewMiddleware(t, newMem(t), tt.opts...).Handler(&o)
			for range 2 {
				if w := serve(h, tt.req()); w.Header().Get("Idempotent-Replayed") != "" {
					t.Fatalf("got a replay for an unprotected request")
				}
			}
			if n := o.N.Load(); n != 2 {
				t.Fatalf("the handler ran %d times, want 2", n)
			}
		})
	}
}

func TestRequestBody(t *testing.T) {
	t.Run("restored for the handler", func(t *testing.T) {
		var got []byte
		h := idemtest.NewMiddleware(t, newMem(t)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, _ = io.ReadAll(r.Body)
			_ = r.Body.Close()
		}))
		body := strings.Repeat("x", 100_000)
		serve(h, request("POST", "/", "k", body))
		if string(got) != body {
			t.Fatalf("the handler read %d bytes, want %d", len(got), len(body))
		}
	})
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("too large, chunked=%v", chunked), func(t *testing.T) {
			var o idemtest.Orders
			h := idemtest.NewMiddleware(t, newMem(t), idempotency.WithMaxRequestBody(10)).Handler(&o)
			r := request("POST", "/", "k", "01234567890")
			if chunked {
				r.ContentLength = -1
				r.Body = io.NopCloser(strings.NewReader("01234567890"))
			}
			wantProblem(t, serve(h, r), 413, "larger than 10 bytes")
			if w := serve(h, request("POST", "/", "k", "0123456789")); w.Code != 201 {
				t.Fatalf("a body at the limit: %d, want 201", w.Code)
			}
			if n := o.N.Load(); n != 1 {
				t.Fatalf("the handler ran %d times, want 1", n)
			}
		})
	}
	t.Run("read error", func(t *testing.T) {
		r := request("POST", "/", "k", "")
		r.Body = io.NopCloser(io.MultiReader(strings.NewReader("par"), errReader{}))
		wantProblem(t, serve(idemtest.NewMiddleware(t, newMem(t)).Handler(&idemtest.Orders{}), r), 400, "reading the request body")
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }
