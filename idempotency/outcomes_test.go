package idempotency_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/internal/idemtest"
)

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
			h := idemtest.NewMiddleware(t, newMem(t)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
			h := idemtest.NewMiddleware(t, newMem(t)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	var o idemtest.Orders
	h := idemtest.NewMiddleware(t, newMem(t), idempotency.WithMaxResponseBody(10)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	if n := o.N.Load(); n != 1 {
		t.Fatalf("%d orders placed, want 1", n)
	}
}

// TestPrincipal: one client's key can neither replay nor block another's.
func TestPrincipal(t *testing.T) {
	var o idemtest.Orders
	h := idemtest.NewMiddleware(t, newMem(t), idempotency.WithPrincipal(func(r *http.Request) string {
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
			var o idemtest.Orders
			var logs bytes.Buffer
			m := idemtest.NewMiddleware(t, failingStore{tt.err}, idempotency.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			w := serve(m.Handler(&o), request("POST", "/", "k", ""))
			wantProblem(t, w, tt.status, "the request was not processed; retry later with the same key")
			if n := o.N.Load(); n != 0 {
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
	m := idemtest.NewMiddleware(t, completeFails{newMem(t), idempotency.ErrStoreUnavailable},
		idempotency.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	h := m.Handler(&idemtest.Orders{})
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
				var o idemtest.Orders
				h := idemtest.NewMiddleware(t, newMem(t), idempotency.WithWait(2*time.Second)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
				if n := o.N.Load(); n != 1 {
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
		h := idemtest.NewMiddleware(t, newMem(t), idempotency.WithWait(time.Minute)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		{"nil option", newMem(t), nil},
		{"header", newMem(t), idempotency.WithHeader("Bad Header")},
		{"empty header", newMem(t), idempotency.WithHeader("")},
		{"replay header", newMem(t), idempotency.WithReplayHeader("x:y")},
		{"no methods", newMem(t), idempotency.WithMethods()},
		{"bad method", newMem(t), idempotency.WithMethods("PO ST")},
		{"ttl", newMem(t), idempotency.WithTTL(0)},
		{"lease", newMem(t), idempotency.WithLease(time.Millisecond)},
		{"delivery timeout", newMem(t), idempotency.WithDeliveryTimeout(0)},
		{"request body", newMem(t), idempotency.WithMaxRequestBody(0)},
		{"response body", newMem(t), idempotency.WithMaxResponseBody(-1)},
		{"wait", newMem(t), idempotency.WithWait(-time.Second)},
		{"store timeout", newMem(t), idempotency.WithStoreTimeout(-time.Second)},
		{"logger", newMem(t), idempotency.WithLogger(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := idempotency.New(tt.store, tt.opt); !errors.Is(err, idempotency.ErrInvalidOption) {
				t.Fatalf("New error = %v, want ErrInvalidOption", err)
			}
		})
	}
}

// TestBadStoreAnswers: a store that breaks its contract gets the request
// refused with 500, never a crash or a run.
func TestBadStoreAnswers(t *testing.T) {
	tests := []struct {
		name string
		res  idempotency.Reservation
	}{
		{"completed without a record", idempotency.Reservation{State: idempotency.StateCompleted}},
		{"record with status 0", idempotency.Reservation{State: idempotency.StateCompleted, Record: &idempotency.Record{}}},
		{"unknown state", idempotency.Reservation{State: 99}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o idemtest.Orders
			w := serve(idemtest.NewMiddleware(t, fixedStore{res: tt.res}).Handler(&o), request("POST", "/", "k", ""))
			wantProblem(t, w, 500, "the key store failed")
			if n := o.N.Load(); n != 0 {
				t.Fatalf("the handler ran %d times, want 0", n)
			}
		})
	}
}

// TestStoreTimeout: a store that hangs is cut off after WithStoreTimeout
// and the client gets 503, on synctest's clock.
func TestStoreTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var o idemtest.Orders
		h := idemtest.NewMiddleware(t, hangingStore{}, idempotency.WithStoreTimeout(3*time.Second)).Handler(&o)
		start := time.Now()
		w := serve(h, request("POST", "/", "k", ""))
		if took := time.Since(start); took != 3*time.Second {
			t.Fatalf("the request took %v, want exactly the 3s store timeout", took)
		}
		wantProblem(t, w, 503, "store is unavailable")
		if o.N.Load() != 0 {
			t.Fatalf("the handler ran with the store hanging")
		}
	})
}
