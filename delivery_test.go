package lifeline_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/cstest"
)

// deliveryHandler answers size bytes with Finish, then waits for the
// delivery for up to wait and reports it on got.
func deliveryHandler(size int, wait time.Duration, got chan<- lifeline.Delivery) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		io.WriteString(w, strings.Repeat("d", size))
		rn.Finish()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		d, _ := rn.AwaitDelivery(ctx)
		got <- d
	}
}

// TestDeliveryReadAll: a client that reads the whole early answer has it
// delivered, over HTTP/1; the run's Record says so too (issue 14).
func TestDeliveryReadAll(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("delivery is read from the socket on Linux only")
	}
	for _, size := range []int{10, 1 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			p := newPool(t)
			got := make(chan lifeline.Delivery, 1)
			ts := startH2C(t, p, p.Middleware()(deliveryHandler(size, 5*time.Second, got)))
			resp, err := http.Get(ts.URL)
			if err != nil {
				t.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if n != int64(size) {
				t.Fatalf("read %d bytes, want %d", n, size)
			}
			if d := <-got; d != lifeline.Delivered {
				t.Errorf("AwaitDelivery = %v, want delivered", d)
			}
			waitIdle(t, p, 5*time.Second)
			if rec := p.Recent()[0]; rec.Delivery != lifeline.Delivered {
				t.Errorf("Record.Delivery = %v, want delivered", rec.Delivery)
			}
		})
	}
}

// TestDeliveryNotReadThenReset: an answer the client does not read stays
// pending (the wait ends with its context); when the client then resets
// the connection it is undelivered (issue 14).
func TestDeliveryNotReadThenReset(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("delivery is read from the socket on Linux only")
	}
	p := newPool(t)
	first, second := make(chan lifeline.Delivery, 1), make(chan lifeline.Delivery, 1)
	reset := make(chan struct{})
	ts := startH2C(t, p, p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		io.WriteString(w, strings.Repeat("n", 512<<10)) // more than the client's buffer, less than the server's
		rn.Finish()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		d, err := rn.AwaitDelivery(ctx)
		cancel()
		if err == nil {
			t.Errorf("AwaitDelivery returned %v before its context ended", d)
		}
		first <- d
		<-reset
		ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
		d, _ = rn.AwaitDelivery(ctx)
		cancel()
		second <- d
	})))
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
		t.Fatal(err)
	}
	if d := <-first; d != lifeline.DeliveryPending {
		t.Errorf("AwaitDelivery while the client reads nothing = %v, want pending", d)
	}
	c.(*net.TCPConn).SetLinger(0)
	c.Close() // RST
	close(reset)
	if d := <-second; d != lifeline.Undelivered {
		t.Errorf("AwaitDelivery after a reset = %v, want undelivered", d)
	}
}

// TestDeliveryUnknown: without a socket to ask (a ResponseRecorder, HTTP/2,
// a run that did not Finish) the answer is unknown at once, never a guess.
func TestDeliveryUnknown(t *testing.T) {
	p := newPool(t)
	got := make(chan lifeline.Delivery, 1)
	h := p.Middleware()(deliveryHandler(10, 5*time.Second, got))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if d := <-got; d != lifeline.DeliveryUnknown {
		t.Errorf("recorder: %v, want unknown", d)
	}
	ts := cstest.Start(t, cstest.H2, h, p.ConfigureServer)
	resp, err := ts.Client.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if d := <-got; d != lifeline.DeliveryUnknown {
		t.Errorf("HTTP/2: %v, want unknown", d)
	}
	nofinish := make(chan lifeline.Delivery, 1)
	ts2 := startH2C(t, p, p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		io.WriteString(w, "x")
		d, _ := rn.AwaitDelivery(context.Background()) // returns at once
		nofinish <- d
	})))
	resp, err = http.Get(ts2.URL)
	if err == nil {
		resp.Body.Close()
	}
	if d := <-nofinish; d != lifeline.DeliveryUnknown {
		t.Errorf("without Finish: %v, want unknown", d)
	}
}
