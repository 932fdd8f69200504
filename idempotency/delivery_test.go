package idempotency_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/internal/idemtest"
	"github.com/lifeline-go/lifeline/internal/pooltest"
)

// replays collects what WithOnReplay reports.
type replays chan *idempotency.Replay

func (c replays) hook(_ context.Context, rp *idempotency.Replay) { c <- rp }

func (c replays) next(t *testing.T) *idempotency.Replay {
	t.Helper()
	select {
	case rp := <-c:
		return rp
	case <-time.After(20 * time.Second):
		t.Fatal("WithOnReplay's function was not called")
		return nil
	}
}

// postKey sends a POST with key and reads the whole answer. The
// connection stays open (keep-alive): one that closes right after the
// answer is acknowledged by its FIN, and its delivery is unknown.
func postKey(t *testing.T, url, key, body string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Idempotency-Key", key)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), string(b)
}

// TestReplayDelivered: the retry of an order reads its whole replay; the
// application is told that the replay, the original answer, was delivered
// (the order demo then marks an unconfirmed order confirmed).
func TestReplayDelivered(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("delivery is read from the socket on Linux only")
	}
	got := make(replays, 4)
	var o idemtest.Orders
	p := pooltest.New(t)
	ts := idemtest.StartLifeline(t, p, idemtest.NewMiddleware(t, newMem(t), idempotency.WithOnReplay(got.hook)).Handler(&o))
	code, _, first := postKey(t, ts.URL+"/orders", "k-1", "book")
	if code != http.StatusCreated {
		t.Fatalf("first: %d %s", code, first)
	}
	select {
	case rp := <-got:
		t.Fatalf("the hook was called for a first run: %+v", rp)
	default:
	}
	code, replayed, again := postKey(t, ts.URL+"/orders", "k-1", "book")
	if code != http.StatusCreated || replayed != "true" || again != first {
		t.Fatalf("retry: %d replayed=%q %q, want the replay of %q", code, replayed, again, first)
	}
	rp := got.next(t)
	if rp.Delivery != lifeline.Delivered {
		t.Errorf("Delivery = %v, want delivered", rp.Delivery)
	}
	if rp.Key != "k-1" || string(rp.Record.Body) != first || rp.Record.StatusCode != http.StatusCreated || rp.Request.URL.Path != "/orders" {
		t.Errorf("Replay = key %q, record %d %q, path %q; want k-1, the first answer, /orders", rp.Key, rp.Record.StatusCode, rp.Record.Body, rp.Request.URL.Path)
	}
	if n := o.N.Load(); n != 1 {
		t.Errorf("%d orders, want 1", n)
	}
}

// TestReplayUndelivered: a retry whose client takes the status line of a
// large replay and then resets the connection did not get the answer; the
// application is told it was undelivered, so the order stays unconfirmed.
func TestReplayUndelivered(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("delivery is read from the socket on Linux only")
	}
	const size = 32 << 20 // more than the socket buffers of both ends hold
	big := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, strings.Repeat("o", size))
	})
	got := make(replays, 4)
	p := pooltest.New(t)
	ts := idemtest.StartLifeline(t, p, idemtest.NewMiddleware(t, newMem(t), idempotency.WithMaxResponseBody(size),
		idempotency.WithOnReplay(got.hook)).Handler(big))
	if code, _, body := postKey(t, ts.URL+"/orders", "k-2", ""); code != http.StatusCreated || len(body) != size {
		t.Fatalf("first: %d, %d bytes", code, len(body))
	}
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /orders HTTP/1.1\r\nHost: shop\r\nIdempotency-Key: k-2\r\nContent-Length: 0\r\n\r\n")
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, "201") {
		t.Fatalf("status line %q, %v", status, err)
	}
	_ = conn.(*net.TCPConn).SetLinger(0) // close with a reset, the rest unread
	conn.Close()
	if rp := got.next(t); rp.Delivery != lifeline.Undelivered {
		t.Errorf("Delivery = %v, want undelivered", rp.Delivery)
	}
}

// TestReplayOutsideLifeline: without a Lifeline run there is no socket to
// watch: the hook is told the replay's delivery is unknown.
func TestReplayOutsideLifeline(t *testing.T) {
	got := make(replays, 4)
	h := idemtest.NewMiddleware(t, newMem(t), idempotency.WithOnReplay(got.hook)).Handler(&idemtest.Orders{})
	serve(h, request("POST", "/orders", "k", "book"))
	w := serve(h, request("POST", "/orders", "k", "book"))
	if w.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatal("no replay")
	}
	if rp := got.next(t); rp.Delivery != lifeline.DeliveryUnknown || string(rp.Record.Body) != w.Body.String() {
		t.Errorf("Replay = %v %q, want unknown and the replayed body %q", rp.Delivery, rp.Record.Body, w.Body)
	}
}
