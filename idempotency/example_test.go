package idempotency_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/idempotency/memstore"
)

// placeOrder stands for a handler with a side effect.
func placeOrder() http.Handler {
	n := 0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		w.Header().Set("Location", fmt.Sprintf("/orders/%d", n))
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "order %d placed\n", n)
	})
}

func send(h http.Handler, method, target, key, body string) {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Printf("%d replayed=%q %s", w.Code, w.Header().Get("Idempotent-Replayed"), w.Body)
}

func ExampleNew() {
	store, err := memstore.New()
	if err != nil {
		log.Fatal(err)
	}
	idem, err := idempotency.New(store)
	if err != nil {
		log.Fatal(err)
	}
	h := idem.Handler(placeOrder())

	send(h, "POST", "/orders", `"a1b2c3"`, "item=book") // runs
	send(h, "POST", "/orders", `"a1b2c3"`, "item=book") // the double click: replayed
	send(h, "POST", "/orders", `"d4e5f6"`, "item=book") // a new key: a new order
	// Output:
	// 201 replayed="" order 1 placed
	// 201 replayed="true" order 1 placed
	// 201 replayed="" order 2 placed
}

// ExampleNew_options shows every option with its default value.
func ExampleNew_options() {
	store, err := memstore.New()
	if err != nil {
		log.Fatal(err)
	}
	_, err = idempotency.New(store,
		idempotency.WithHeader("Idempotency-Key"),
		idempotency.WithReplayHeader("Idempotent-Replayed"),
		idempotency.WithMethods(http.MethodPost, http.MethodPatch),
		idempotency.WithRequireKey(false),
		idempotency.WithPrincipal(nil),
		idempotency.WithTTL(24*time.Hour),
		idempotency.WithLease(10*time.Second),
		idempotency.WithMaxRequestBody(1<<20),
		idempotency.WithMaxResponseBody(1<<20),
		idempotency.WithWait(0),
		idempotency.WithIgnoreUserAbort(true),
		idempotency.WithStoreTimeout(5*time.Second),
		idempotency.WithLogger(slog.Default()),
		idempotency.WithOnReplay(nil),
		idempotency.WithDeliveryTimeout(10*time.Second),
	)
	fmt.Println(err)
	_, err = idempotency.New(store, idempotency.WithTTL(0))
	fmt.Println(err)
	_, err = idempotency.New(store, idempotency.WithTTL(time.Hour), nil)
	fmt.Println(err)
	// Output:
	// <nil>
	// idempotency: invalid option: WithTTL(0s): must be positive
	// idempotency: invalid option: opts[1] is nil
}

// ExampleMiddleware_Handler shows the answers besides a replay.
func ExampleMiddleware_Handler() {
	store, err := memstore.New()
	if err != nil {
		log.Fatal(err)
	}
	idem, err := idempotency.New(store, idempotency.WithRequireKey(true))
	if err != nil {
		log.Fatal(err)
	}
	h := idem.Handler(placeOrder())

	send(h, "POST", "/orders", "k1", "item=book")
	send(h, "POST", "/orders", "k1", "item=pen") // same key, other body
	send(h, "POST", "/orders", `"k1`, "item=book")
	send(h, "POST", "/orders", "", "item=book")
	send(h, "GET", "/orders/1", "", "") // not protected
	// Output:
	// 201 replayed="" order 1 placed
	// 422 replayed="" {"title":"Unprocessable Entity","status":422,"detail":"idempotency: this Idempotency-Key was already used for a different request (method, path, query or body differ); send a new key with a new request"}
	// 400 replayed="" {"title":"Bad Request","status":400,"detail":"Idempotency-Key: idempotency: invalid key: missing closing quote"}
	// 400 replayed="" {"title":"Bad Request","status":400,"detail":"idempotency: this endpoint requires an Idempotency-Key header field; send a new unique key (such as a random UUID) with each new request, and the same key with its retries"}
	// 201 replayed="" order 2 placed
}

// ExampleMiddleware_Handler_lifeline protects a route that runs inside
// Lifeline: the run ignores user aborts, so a client that disconnects
// mid-order and retries gets this run's result.
func ExampleMiddleware_Handler_lifeline() {
	pool, err := lifeline.NewPool()
	if err != nil {
		log.Fatal(err)
	}
	store, err := memstore.New()
	if err != nil {
		log.Fatal(err)
	}
	idem, err := idempotency.New(store)
	if err != nil {
		log.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(pool.Middleware()(idem.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		fmt.Fprintf(w, "ignoring user aborts: %v\n", rn.IgnoresUserAbort())
	}))))
	pool.ConfigureServer(ts.Config)
	ts.Start()
	defer pool.Shutdown(context.Background()) // after the server, as its doc says
	defer ts.Close()

	for range 2 {
		req, _ := http.NewRequest("POST", ts.URL+"/checkout", strings.NewReader("card=4242"))
		req.Header.Set("Idempotency-Key", `"checkout-77"`)
		resp, err := ts.Client().Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("replayed=%q %s", resp.Header.Get("Idempotent-Replayed"), body)
	}
	// Output:
	// replayed="" ignoring user aborts: true
	// replayed="true" ignoring user aborts: true
}

func ExampleWithPrincipal() {
	store, err := memstore.New()
	if err != nil {
		log.Fatal(err)
	}
	idem, err := idempotency.New(store, idempotency.WithPrincipal(func(r *http.Request) string {
		user, _, _ := r.BasicAuth() // in real code: the authenticated user's ID
		return user
	}))
	if err != nil {
		log.Fatal(err)
	}
	h := idem.Handler(placeOrder())
	for _, user := range []string{"alice", "bob", "alice"} {
		r := httptest.NewRequest("POST", "/orders", nil)
		r.SetBasicAuth(user, "secret")
		r.Header.Set("Idempotency-Key", "1") // a poor key, but keys do not cross users
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Printf("%s: %s", user, w.Body)
	}
	// Output:
	// alice: order 1 placed
	// bob: order 2 placed
	// alice: order 1 placed
}

func ExampleParseKey() {
	for _, v := range []string{
		`"8e03978e-40d5-43e8-bc93-6894a57f9324"`, // the IETF draft's form
		`8e03978e-40d5-43e8-bc93-6894a57f9324`,   // Stripe's form: the same key
		`"order \"42\""`,
		`order 42`,
		`""`,
	} {
		key, err := idempotency.ParseKey(v)
		fmt.Printf("%q %v\n", key, err)
	}
	// Output:
	// "8e03978e-40d5-43e8-bc93-6894a57f9324" <nil>
	// "8e03978e-40d5-43e8-bc93-6894a57f9324" <nil>
	// "order \"42\"" <nil>
	// "" idempotency: invalid key: byte 0x20 at offset 5 is not visible ASCII (quote the key as an sf-string to use spaces)
	// "" idempotency: invalid key: the quoted string is empty
}

func ExampleRecord_MarshalBinary() {
	rec := &idempotency.Record{
		StatusCode: http.StatusCreated,
		Header:     http.Header{"Location": {"/orders/1"}},
		Body:       []byte("order 1 placed"),
		BodySize:   14,
	}
	data, err := rec.MarshalBinary()
	if err != nil {
		log.Fatal(err)
	}
	var back idempotency.Record
	if err := back.UnmarshalBinary(data); err != nil {
		log.Fatal(err)
	}
	fmt.Println(back.StatusCode, back.Header.Get("Location"), string(back.Body))
	fmt.Println(back.UnmarshalBinary(data[:5]))
	// Output:
	// 201 /orders/1 order 1 placed
	// idempotency: corrupt record: truncated or invalid number
}

func ExampleState_String() {
	for _, s := range []idempotency.State{idempotency.StateReserved, idempotency.StateInProgress, idempotency.StateCompleted, idempotency.StateMismatch} {
		fmt.Println(s)
	}
	// Output:
	// reserved
	// in progress
	// completed
	// fingerprint mismatch
}

// ExampleWithOnReplay confirms an order when a replay of its answer is
// delivered. Outside a Lifeline pool the delivery is unknown; inside one
// (with Pool.ConfigureServer, on Linux) it is Delivered or Undelivered.
func ExampleWithOnReplay() {
	store, err := memstore.New()
	if err != nil {
		log.Fatal(err)
	}
	confirm := func(ctx context.Context, rp *idempotency.Replay) {
		if rp.Delivery == lifeline.Delivered {
			fmt.Println("confirm", rp.Record.Header.Get("Location"))
			return
		}
		fmt.Printf("replay of key %s: %v\n", rp.Key, rp.Delivery)
	}
	idem, err := idempotency.New(store, idempotency.WithOnReplay(confirm))
	if err != nil {
		log.Fatal(err)
	}
	h := idem.Handler(placeOrder())
	for range 2 {
		r := httptest.NewRequest("POST", "/orders", strings.NewReader("book"))
		r.Header.Set("Idempotency-Key", "order-1")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	// Output:
	// replay of key order-1: unknown
}

// ExampleLeaseFromContext shows what a protected handler sees of its key's
// reservation.
func ExampleLeaseFromContext() {
	store, err := memstore.New()
	if err != nil {
		log.Fatal(err)
	}
	idem, err := idempotency.New(store, idempotency.WithPrincipal(func(r *http.Request) string { return "user-7" }))
	if err != nil {
		log.Fatal(err)
	}
	h := idem.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l, ok := idempotency.LeaseFromContext(r.Context())
		fmt.Println(ok, l.Key(), l.TTL())
	}))
	r := httptest.NewRequest("POST", "/orders", nil)
	r.Header.Set("Idempotency-Key", "order-1")
	h.ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// true 6:user-7:order-1 24h0m0s
}
