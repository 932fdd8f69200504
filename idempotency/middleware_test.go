package idempotency_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/idempotency"
)

// TestReplay is the seed's double click: the second submission with the
// same key gets the first one's response and places no order.
func TestReplay(t *testing.T) {
	var o orders
	h := newMiddleware(t, newMem(t)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	if n := o.n.Load(); n != 1 {
		t.Fatalf("%d orders placed, want 1", n)
	}
}

func TestMismatch(t *testing.T) {
	var o orders
	h := newMiddleware(t, newMem(t)).Handler(&o)
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
	if n := o.n.Load(); n != 1 {
		t.Fatalf("%d orders placed, want 1", n)
	}
}

// TestInProgress: a duplicate that arrives while the first run works gets
// 409, and the handler is not run for it.
func TestInProgress(t *testing.T) {
	var o orders
	entered, proceed := make(chan struct{}), make(chan struct{})
	h := newMiddleware(t, newMem(t)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
			var o orders
			h := newMiddleware(t, newMem(t), tt.opts...).Handler(&o)
			r := request("POST", "/orders", "", "book")
			for _, v := range tt.header {
				r.Header.Add("Idempotency-Key", v)
			}
			wantProblem(t, serve(h, r), 400, tt.detail)
			if n := o.n.Load(); n != 0 {
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
			var o orders
			h := newMiddleware(t, newMem(t), tt.opts...).Handler(&o)
			for range 2 {
				if w := serve(h, tt.req()); w.Header().Get("Idempotent-Replayed") != "" {
					t.Fatalf("got a replay for an unprotected request")
				}
			}
			if n := o.n.Load(); n != 2 {
				t.Fatalf("the handler ran %d times, want 2", n)
			}
		})
	}
}

func TestRequestBody(t *testing.T) {
	t.Run("restored for the handler", func(t *testing.T) {
		var got []byte
		h := newMiddleware(t, newMem(t)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
			var o orders
			h := newMiddleware(t, newMem(t), idempotency.WithMaxRequestBody(10)).Handler(&o)
			r := request("POST", "/", "k", "01234567890")
			if chunked {
				r.ContentLength = -1
				r.Body = io.NopCloser(strings.NewReader("01234567890"))
			}
			wantProblem(t, serve(h, r), 413, "larger than 10 bytes")
			if w := serve(h, request("POST", "/", "k", "0123456789")); w.Code != 201 {
				t.Fatalf("a body at the limit: %d, want 201", w.Code)
			}
			if n := o.n.Load(); n != 1 {
				t.Fatalf("the handler ran %d times, want 1", n)
			}
		})
	}
	t.Run("read error", func(t *testing.T) {
		r := request("POST", "/", "k", "")
		r.Body = io.NopCloser(io.MultiReader(strings.NewReader("par"), errReader{}))
		wantProblem(t, serve(newMiddleware(t, newMem(t)).Handler(&orders{}), r), 400, "reading the request body")
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// TestOutcomes: which results are stored and which release the key.
func TestOutcomes(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		wantRuns   int64 // after three requests with one key
		wantReplay bool
	}{
		{"201 stored", 201, 1, true},
		{"204 stored", 204, 1, true},
		{"400 stored", 400, 1, true},
		{"409 from the handler stored", 409, 1, true},
		{"500 released", 500, 3, false},
		{"503 released", 503, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var runs int64
			h := newMiddleware(t, newMem(t)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				runs++
				w.WriteHeader(tt.status)
				fmt.Fprint(w, "run ", runs)
			}))
			var last *httptest.ResponseRecorder
			for range 3 {
				last = serve(h, request("POST", "/", "k", ""))
				if last.Code != tt.status {
					t.Fatalf("status = %d, want %d", last.Code, tt.status)
				}
			}
			if runs != tt.wantRuns {
				t.Fatalf("the handler ran %d times, want %d", runs, tt.wantRuns)
			}
			if replayed := last.Header().Get("Idempotent-Replayed") == "true"; replayed != tt.wantReplay {
				t.Fatalf("third response replayed = %v, want %v", replayed, tt.wantReplay)
			}
			if tt.wantReplay && tt.status != 204 && last.Body.String() != "run 1" {
				t.Fatalf("replayed body = %q, want \"run 1\"", last.Body)
			}
		})
	}
}

// TestPanicReleases: a panic releases the key and is re-raised with its
// own value, the sentinels of net/http and Lifeline included.
func TestPanicReleases(t *testing.T) {
	for _, v := range []any{"boom", http.ErrAbortHandler, lifeline.ErrTerminated} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			runs := 0
			h := newMiddleware(t, newMem(t)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				runs++
				if runs == 1 {
					fmt.Fprint(w, "partial")
					panic(v)
				}
				fmt.Fprint(w, "ok")
			}))
			func() {
				defer func() {
					if got := recover(); got != v {
						t.Fatalf("recovered %v, want %v re-panicked", got, v)
					}
				}()
				serve(h, request("POST", "/", "k", ""))
			}()
			if w := serve(h, request("POST", "/", "k", "")); w.Body.String() != "ok" || w.Header().Get("Idempotent-Replayed") != "" {
				t.Fatalf("retry after the panic = %q %v, want a fresh run", w.Body, w.Header())
			}
			if w := serve(h, request("POST", "/", "k", "")); w.Body.String() != "ok" || w.Header().Get("Idempotent-Replayed") != "true" {
				t.Fatalf("third request = %q %v, want the replay of the retry", w.Body, w.Header())
			}
		})
	}
}

func TestLargeResponseNotStored(t *testing.T) {
	var o orders
	h := newMiddleware(t, newMem(t), idempotency.WithMaxResponseBody(10)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		o.ServeHTTP(w, r)
		_, _ = w.Write(bytes.Repeat([]byte("x"), 100))
	}))
	first := serve(h, request("POST", "/orders", "k", "book"))
	if first.Code != 201 || first.Body.Len() != 113 {
		t.Fatalf("first = %d with %d bytes, want 201 with 113", first.Code, first.Body.Len())
	}
	w := serve(h, request("POST", "/orders", "k", "book"))
	wantProblem(t, w, 201, "processed with status 201, but its 113-byte response body was too large to be stored")
	if w.Header().Get("Location") != "/orders/1" || w.Header().Get("Idempotent-Replayed") != "true" || w.Header().Get("ETag") != "" {
		t.Fatalf("replay header = %v, want Location and the replay mark, no ETag", w.Header())
	}
	if n := o.n.Load(); n != 1 {
		t.Fatalf("%d orders placed, want 1", n)
	}
}

// TestPrincipal: one client's key can neither replay nor block another's.
func TestPrincipal(t *testing.T) {
	var o orders
	h := newMiddleware(t, newMem(t), idempotency.WithPrincipal(func(r *http.Request) string {
		return r.Header.Get("X-User")
	})).Handler(&o)
	send := func(user string) *httptest.ResponseRecorder {
		r := request("POST", "/orders", "shared-key", "book")
		r.Header.Set("X-User", user)
		return serve(h, r)
	}
	alice, bob := send("alice"), send("bob")
	if alice.Body.String() != "order 1: book" || bob.Body.String() != "order 2: book" {
		t.Fatalf("alice got %q, bob got %q; want separate orders", alice.Body, bob.Body)
	}
	if again := send("alice"); again.Body.String() != "order 1: book" || again.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("alice's retry = %q, want her own replay", again.Body)
	}
	// Principals that could collide if joined naively stay apart.
	for _, user := range []string{"alice:", "alice:shared-key"} {
		if w := send(user); w.Header().Get("Idempotent-Replayed") != "" {
			t.Fatalf("user %q got a replay of another principal's response", user)
		}
	}
}

func TestStoreFailures(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
	}{
		{"unavailable", fmt.Errorf("redisstore: reserve: %w: dial tcp: connection refused", idempotency.ErrStoreUnavailable), 503},
		{"timeout", fmt.Errorf("store: reserve: %w", context.DeadlineExceeded), 503},
		{"other", errors.New("store: corrupt"), 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o orders
			var logs bytes.Buffer
			m := newMiddleware(t, failingStore{tt.err}, idempotency.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			w := serve(m.Handler(&o), request("POST", "/", "k", ""))
			wantProblem(t, w, tt.status, "the request was not processed; retry later with the same key")
			if n := o.n.Load(); n != 0 {
				t.Fatalf("the handler ran %d times with the store failing, want 0", n)
			}
			if !strings.Contains(logs.String(), "store failed") {
				t.Fatalf("log = %q, want the store failure", logs.String())
			}
		})
	}
}

// TestCompleteFailureIsLogged: the client still gets its response, and the
// operator learns that the key stays reserved.
func TestCompleteFailureIsLogged(t *testing.T) {
	var logs bytes.Buffer
	m := newMiddleware(t, completeFails{newMem(t), idempotency.ErrStoreUnavailable},
		idempotency.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	h := m.Handler(&orders{})
	if w := serve(h, request("POST", "/", "k", "")); w.Code != 201 {
		t.Fatalf("status = %d, want 201", w.Code)
	}
	if !strings.Contains(logs.String(), "could not be recorded") {
		t.Fatalf("log = %q, want the failed recording", logs.String())
	}
	wantProblem(t, serve(h, request("POST", "/", "k", "")), 409, "still being processed")
}

// TestWait runs on synctest's clock: a duplicate waits for the run and
// gets its replay, or gets 409 when the run outlasts WithWait.
func TestWait(t *testing.T) {
	tests := []struct {
		name     string
		runTakes time.Duration
		status   int
		replayed bool
	}{
		{"run ends within the wait", 1500 * time.Millisecond, 201, true},
		{"run outlasts the wait", 3 * time.Second, 409, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var o orders
				h := newMiddleware(t, newMem(t), idempotency.WithWait(2*time.Second)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					time.Sleep(tt.runTakes)
					o.ServeHTTP(w, r)
				}))
				go serve(h, request("POST", "/", "k", "book"))
				synctest.Wait()
				start := time.Now()
				w := serve(h, request("POST", "/", "k", "book"))
				if w.Code != tt.status || (w.Header().Get("Idempotent-Replayed") == "true") != tt.replayed {
					t.Fatalf("duplicate = %d %v, want %d replayed=%v", w.Code, w.Header(), tt.status, tt.replayed)
				}
				if waited := time.Since(start); waited > 2*time.Second {
					t.Fatalf("the duplicate waited %v, more than WithWait's 2s", waited)
				}
				time.Sleep(tt.runTakes)
				if n := o.n.Load(); n != 1 {
					t.Fatalf("%d orders placed, want 1", n)
				}
			})
		})
	}
}

// TestWaitRunsAfterRelease: a waiting duplicate whose run failed runs
// itself, as the retry it is.
func TestWaitRunsAfterRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		runs := 0
		h := newMiddleware(t, newMem(t), idempotency.WithWait(time.Minute)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			runs++
			if runs == 1 {
				time.Sleep(time.Second)
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			w.WriteHeader(http.StatusCreated)
		}))
		go serve(h, request("POST", "/", "k", ""))
		synctest.Wait()
		if w := serve(h, request("POST", "/", "k", "")); w.Code != 201 || runs != 2 {
			t.Fatalf("waiting duplicate = %d after %d runs, want 201 after 2", w.Code, runs)
		}
	})
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name  string
		store idempotency.Store
		opt   idempotency.Option
	}{
		{"nil store", nil, nil},
		{"header", newMem(t), idempotency.WithHeader("Bad Header")},
		{"empty header", newMem(t), idempotency.WithHeader("")},
		{"replay header", newMem(t), idempotency.WithReplayHeader("x:y")},
		{"no methods", newMem(t), idempotency.WithMethods()},
		{"bad method", newMem(t), idempotency.WithMethods("PO ST")},
		{"ttl", newMem(t), idempotency.WithTTL(0)},
		{"reservation ttl", newMem(t), idempotency.WithReservationTTL(-time.Second)},
		{"request body", newMem(t), idempotency.WithMaxRequestBody(0)},
		{"response body", newMem(t), idempotency.WithMaxResponseBody(-1)},
		{"wait", newMem(t), idempotency.WithWait(-time.Second)},
		{"store timeout", newMem(t), idempotency.WithStoreTimeout(0)},
		{"logger", newMem(t), idempotency.WithLogger(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []idempotency.Option
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			if _, err := idempotency.New(tt.store, opts...); !errors.Is(err, idempotency.ErrInvalidOption) {
				t.Fatalf("New error = %v, want ErrInvalidOption", err)
			}
		})
	}
}
