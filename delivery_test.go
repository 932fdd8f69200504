package lifeline_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/cstest"
	"github.com/lifeline-go/lifeline/internal/h2raw"
	"github.com/lifeline-go/lifeline/lifelinetest"
	"github.com/lifeline-go/lifeline/output"
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

// stallSize is more than the receive buffer of a client that stalls
// (dialStalled) and less than its HTTP/2 window: an answer of this size
// stays partly unsent, in the server's buffers, while the client reads
// nothing.
const stallSize = 48 << 10

// finishStalling is an early answer that a stalled client cannot take in
// whole: it ignores the client's abort, sends a 200 header, then stallSize
// bytes, and calls Finish. It returns the run, which goes on.
func finishStalling(w http.ResponseWriter, r *http.Request) *lifeline.Run {
	rn, _ := lifeline.FromContext(r.Context())
	rn.IgnoreUserAbort(true)
	w.WriteHeader(200)
	http.NewResponseController(w).Flush()
	io.WriteString(w, strings.Repeat("s", stallSize))
	rn.Finish()
	return rn
}

// watched configures a server as package server does: with a dead-peer
// timeout, which bounds how long a delivery outlives net/http's close.
func watched(p *lifelinetest.Pool) cstest.Configurer {
	return func(s *http.Server) {
		p.ConfigureServerWith(s, lifeline.ServerConfig{DeadPeerTimeout: 4 * time.Second})
	}
}

func skipUnlessLinux(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("delivery is read from the socket on Linux only")
	}
}

// TestDeliveryReadAll: a client that reads the whole early answer has it
// delivered, over HTTP/1, HTTP/2 over TLS and h2c; the run's Record says
// so too.
func TestDeliveryReadAll(t *testing.T) {
	skipUnlessLinux(t)
	cstest.Run(t, func(t *testing.T, m cstest.Mode) {
		for _, size := range []int{0, 10, 1 << 20} {
			t.Run(fmt.Sprint(size), func(t *testing.T) {
				p := newPool(t)
				got := make(chan lifeline.Delivery, 1)
				ts := cstest.Start(t, m, p.Middleware()(deliveryHandler(size, 5*time.Second, got)), watched(p))
				resp, err := ts.Client.Get(ts.URL)
				if err != nil {
					t.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if n != int64(size) || resp.ProtoMajor != map[cstest.Mode]int{cstest.H1: 1, cstest.H2: 2, cstest.H2C: 2}[m] {
					t.Fatalf("read %d bytes over HTTP/%d, want %d", n, resp.ProtoMajor, size)
				}
				if d := <-got; d != lifeline.Delivered {
					t.Errorf("AwaitDelivery = %v, want delivered", d)
				}
				p.WaitIdle(5 * time.Second)
				if rec := p.Recent()[0]; rec.Delivery != lifeline.Delivered {
					t.Errorf("Record.Delivery = %v, want delivered", rec.Delivery)
				}
			})
		}
	})
}

// TestDeliveryClientLeavesAfterWholeAnswer: a client that has the whole
// early answer and closes its connection while Finish is still writing it
// (here: Finish's last write to the ResponseWriter is held, after a flush,
// until the detector saw the FIN) had it delivered. The FIN makes the run
// aborted, but nothing of the answer was lost: its acknowledgements decide,
// not the moment the client left. CI caught this as a flaky
// TestDeliverySilentPeer (package server), where the race needs a loaded
// machine.
func TestDeliveryClientLeavesAfterWholeAnswer(t *testing.T) {
	skipUnlessLinux(t)
	const size = 64 << 10
	var (
		runs     = make(chan *lifeline.Run, 1)
		got      = make(chan lifeline.Delivery, 1)
		abortSaw = make(chan bool, 1)
	)
	p := newPool(t)
	h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		rn.IgnoreUserAbort(true)
		rn.Output().Start(nil, 0, output.StdFlags)   // the seed's recipe: buffer it all,
		io.WriteString(w, strings.Repeat("w", size)) // so that Finish writes it
		runs <- rn
		rn.Finish()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d, _ := rn.AwaitDelivery(ctx)
		got <- d
	}))
	held := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&holdLastWrite{ResponseWriter: w, left: size, runs: runs, saw: abortSaw}, r)
	})
	srv := cstest.Start(t, cstest.H1, held, p.ConfigureServer)
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := io.Copy(io.Discard, resp.Body); err != nil || n != size || resp.ContentLength != size {
		t.Fatalf("read %d bytes (%v) of Content-Length %d, want %d", n, err, resp.ContentLength, size)
	}
	c.Close() // FIN: everything read, nothing left unread
	if !<-abortSaw {
		t.Fatal("the detector did not see the client leave while Finish's write was held")
	}
	if d := <-got; d != lifeline.Delivered {
		t.Errorf("AwaitDelivery = %v, want delivered: the client read the whole answer before it left", d)
	}
}

// holdLastWrite passes writes on; the one that completes the body (left
// bytes) flushes it to the client and then returns only once the run it
// gets from runs is aborted (or after 5 s), reporting which on saw.
type holdLastWrite struct {
	http.ResponseWriter
	left int
	runs <-chan *lifeline.Run
	saw  chan<- bool
}

func (h *holdLastWrite) Write(p []byte) (int, error) {
	n, err := h.ResponseWriter.Write(p)
	if h.left -= n; h.left > 0 || n == 0 {
		return n, err
	}
	http.NewResponseController(h.ResponseWriter).Flush()
	var rn *lifeline.Run
	select {
	case rn = <-h.runs:
	case <-time.After(5 * time.Second):
		h.saw <- false // not Finish's write: the body was not buffered
		return n, err
	}
	for deadline := time.Now().Add(5 * time.Second); !rn.Aborted() && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	h.saw <- rn.Aborted()
	return n, err
}

func (h *holdLastWrite) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// TestDeliveryManyStreams: many streams on one HTTP/2 connection each learn
// their own delivery; streams the client resets mid-body (it cancels the
// request while the body is larger than its flow-control window) are
// undelivered, the others on the same connection delivered.
func TestDeliveryManyStreams(t *testing.T) {
	skipUnlessLinux(t)
	for _, m := range []cstest.Mode{cstest.H2, cstest.H2C} {
		t.Run(string(m), func(t *testing.T) {
			const streams = 24
			p := newPool(t)
			var (
				mu  sync.Mutex
				got = map[string]lifeline.Delivery{}
				wg  sync.WaitGroup
			)
			wg.Add(streams)
			h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer wg.Done()
				rn, _ := lifeline.FromContext(r.Context())
				rn.IgnoreUserAbort(true)
				size := 64 << 10
				if strings.HasPrefix(r.URL.Path, "/cut") {
					size = 8 << 20 // more than Go's client grants a stream
				}
				io.WriteString(w, strings.Repeat("m", size))
				rn.Finish()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				d, _ := rn.AwaitDelivery(ctx)
				mu.Lock()
				got[r.URL.Path] = d
				mu.Unlock()
			}))
			conns := 0
			ts := cstest.Start(t, m, h, watched(p), func(s *http.Server) {
				s.ConnState = func(_ net.Conn, st http.ConnState) {
					if st == http.StateNew {
						mu.Lock()
						conns++
						mu.Unlock()
					}
				}
			})
			// One connection first, so that every stream shares it.
			if resp, err := ts.Client.Head(ts.URL + "/warm"); err == nil {
				resp.Body.Close()
			}
			var cwg sync.WaitGroup
			for i := range streams - 1 {
				path := fmt.Sprintf("/ok/%d", i)
				if i%4 == 0 {
					path = fmt.Sprintf("/cut/%d", i)
				}
				cwg.Add(1)
				go func() {
					defer cwg.Done()
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+path, nil)
					resp, err := ts.Client.Do(req)
					if err != nil {
						t.Errorf("%s: %v", path, err)
						return
					}
					if strings.HasPrefix(path, "/cut") {
						io.CopyN(io.Discard, resp.Body, 1<<10)
						cancel() // RST_STREAM while the server is mid-body
					} else {
						io.Copy(io.Discard, resp.Body)
					}
					resp.Body.Close()
				}()
			}
			cwg.Wait()
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			if conns != 1 {
				t.Errorf("%d connections, want the streams on one", conns)
			}
			if d := got["/warm"]; d != lifeline.DeliveryUnknown {
				t.Errorf("HEAD: %v, want unknown (its stream may have ended with its header)", d)
			}
			for path, d := range got {
				want := lifeline.Delivered
				switch {
				case path == "/warm":
					continue
				case strings.HasPrefix(path, "/cut"):
					want = lifeline.Undelivered
				}
				if d != want {
					t.Errorf("%s: %v, want %v", path, d, want)
				}
			}
		})
	}
}

// TestDeliveryNotReadThenReset: an answer the client does not read stays
// pending (the wait ends with its context); when the client then resets
// the connection, or over HTTP/2 the stream (RST_STREAM), it is
// undelivered. Over HTTP/1 and HTTP/2 (TLS and h2c), with a client whose
// socket reads nothing after the response's header.
func TestDeliveryNotReadThenReset(t *testing.T) {
	skipUnlessLinux(t)
	cstest.Run(t, func(t *testing.T, m cstest.Mode) {
		resets := []string{"connection"}
		if m != cstest.H1 {
			resets = append(resets, "stream")
		}
		for _, reset := range resets {
			t.Run(reset, func(t *testing.T) {
				p := newPool(t)
				first, second := make(chan lifeline.Delivery, 1), make(chan lifeline.Delivery, 1)
				resetDone := make(chan struct{})
				ts := cstest.Start(t, m, p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					rn := finishStalling(w, r)
					ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
					d, err := rn.AwaitDelivery(ctx)
					cancel()
					if err == nil {
						t.Errorf("AwaitDelivery returned %v before its context ended", d)
					}
					first <- d
					<-resetDone
					ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
					d, _ = rn.AwaitDelivery(ctx)
					cancel()
					second <- d
				})), watched(p))
				c, tcp := dialStalled(t, ts, m)
				if d := <-first; d != lifeline.DeliveryPending {
					t.Errorf("AwaitDelivery while the client reads nothing = %v, want pending", d)
				}
				if reset == "stream" {
					// RST_STREAM(CANCEL) on stream 1.
					if _, err := c.Write(h2raw.AppendFrame(nil, 0x3, 0, 1, []byte{0, 0, 0, 8})); err != nil {
						t.Fatal(err)
					}
				} else {
					tcp.SetLinger(0)
					tcp.Close() // RST
				}
				close(resetDone)
				if d := <-second; d != lifeline.Undelivered {
					t.Errorf("AwaitDelivery after the reset = %v, want undelivered", d)
				}
			})
		}
	})
}

// dialSmallRecv connects to addr with a 4 KiB receive buffer
// (cstest.DialRecvBuf). It is closed when the test ends.
func dialSmallRecv(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	nc, err := cstest.DialRecvBuf(addr, 4096)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// dialStalled connects to ts with a 4 KB receive buffer, asks GET / in
// mode m, waits until the response's header arrived (HTTP/1: the status
// line; HTTP/2: the first bytes after the server's SETTINGS), and then
// reads nothing more. It returns the connection to write frames on and
// the TCP connection, for a reset.
func dialStalled(t *testing.T, ts *cstest.Server, m cstest.Mode) (net.Conn, *net.TCPConn) {
	t.Helper()
	tcp := dialSmallRecv(t, ts.Listener.Addr().String())
	var c net.Conn = tcp
	if m == cstest.H2 {
		tc := tls.Client(tcp, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		c = tc
	}
	if err := h2raw.GetHeaderOnly(c, m != cstest.H1, m == cstest.H2); err != nil {
		t.Fatal(err)
	}
	return c, tcp
}

// TestDeliveryUnknown: without a socket to ask (a ResponseRecorder, a run
// that did not Finish, a HEAD over HTTP/2) the answer is unknown at once,
// never a guess.
func TestDeliveryUnknown(t *testing.T) {
	p := newPool(t)
	got := make(chan lifeline.Delivery, 1)
	h := p.Middleware()(deliveryHandler(10, 5*time.Second, got))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if d := <-got; d != lifeline.DeliveryUnknown {
		t.Errorf("recorder: %v, want unknown", d)
	}
	ts := cstest.Start(t, cstest.H2, h, p.ConfigureServer)
	resp, err := ts.Client.Head(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d := <-got; d != lifeline.DeliveryUnknown {
		t.Errorf("HEAD over HTTP/2: %v, want unknown", d)
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

// TestDeliveryAfterClose: net/http closes the connection before the last
// acknowledgement was looked at, and the delivery is still decided from the
// socket, which the pool's duplicate descriptor keeps: a client that reads
// its answer and closes at once (its last ACK rides on its FIN), and a
// response that closes its connection (Connection: close) read by a client
// that starts reading only after the server closed. Each is delivered every
// time, never unknown.
func TestDeliveryAfterClose(t *testing.T) {
	skipUnlessLinux(t)
	for _, tc := range []struct {
		name  string
		close bool // the response closes the connection
	}{
		{"client closes at once", false},
		{"Connection: close, read late", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPool(t)
			got := make(chan lifeline.Delivery, 1)
			h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rn, _ := lifeline.FromContext(r.Context())
				rn.IgnoreUserAbort(true)
				if tc.close {
					w.Header().Set("Connection", "close")
				}
				io.WriteString(w, strings.Repeat("c", 256<<10))
				rn.Finish()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				d, _ := rn.AwaitDelivery(ctx)
				got <- d
			}))
			closed := make(chan struct{}, 1)
			ts := cstest.Start(t, cstest.H1, h, watched(p), func(s *http.Server) {
				prev := s.ConnState
				s.ConnState = func(c net.Conn, st http.ConnState) {
					prev(c, st)
					if st == http.StateClosed {
						closed <- struct{}{}
					}
				}
			})
			for i := range 20 {
				c, err := net.Dial("tcp", ts.Listener.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				if tc.close {
					<-closed // net/http closed before the client read a byte
				}
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				c.Close()
				if !tc.close {
					<-closed
				}
				if d := <-got; d != lifeline.Delivered {
					t.Fatalf("round %d: %v, want delivered", i, d)
				}
			}
		})
	}
}

// TestDeliveryPipelined: pipelined HTTP/1 requests on one connection each
// get their own target; a client that reads the first answer only and then
// resets has the first delivered and the last undelivered.
func TestDeliveryPipelined(t *testing.T) {
	skipUnlessLinux(t)
	for _, readAll := range []bool{true, false} {
		t.Run(fmt.Sprint("readAll=", readAll), func(t *testing.T) {
			p := newPool(t)
			var (
				mu  sync.Mutex
				got = map[string]lifeline.Delivery{}
				wg  sync.WaitGroup
			)
			if readAll {
				wg.Add(3)
			} else {
				wg.Add(2) // the third may be served or not, as the server's buffers go
			}
			h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if readAll || r.URL.Path != "/3" {
					defer wg.Done()
				}
				rn, _ := lifeline.FromContext(r.Context())
				rn.IgnoreUserAbort(true)
				size := 1 << 10
				if r.URL.Path != "/1" {
					size = 1 << 20 // more than the client's buffer holds
				}
				io.WriteString(w, strings.Repeat("p", size))
				rn.Finish()
				if !readAll && r.URL.Path == "/2" {
					// Not read by the client: pending, until it resets.
					ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
					d, _ := rn.AwaitDelivery(ctx)
					cancel()
					mu.Lock()
					got["/2 before the reset"] = d
					mu.Unlock()
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				d, _ := rn.AwaitDelivery(ctx)
				mu.Lock()
				got[r.URL.Path] = d
				mu.Unlock()
			}))
			ts := cstest.Start(t, cstest.H1, h, watched(p))
			c := dialSmallRecv(t, ts.Listener.Addr().String())
			fmt.Fprintf(c, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n")
			br := bufio.NewReader(c)
			n := 3
			if !readAll {
				n = 1
			}
			for range n {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
			}
			if !readAll {
				if !waitFor(5*time.Second, func() bool {
					mu.Lock()
					defer mu.Unlock()
					return got["/2 before the reset"] != 0
				}) {
					t.Fatal("the second answer was not judged")
				}
				c.SetLinger(0)
				c.Close()
			}
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			want := map[string]lifeline.Delivery{"/1": lifeline.Delivered, "/2": lifeline.Delivered, "/3": lifeline.Delivered}
			if !readAll {
				want = map[string]lifeline.Delivery{"/1": lifeline.Delivered, "/2 before the reset": lifeline.DeliveryPending, "/2": lifeline.Undelivered}
			}
			for path, w := range want {
				if got[path] != w {
					t.Errorf("%s: %v, want %v", path, got[path], w)
				}
			}
		})
	}
}

// BenchmarkDeliveryCost measures a request over a real HTTP/1 keep-alive
// connection on a watched server (Linux): a run that does not Finish, one
// that Finishes and never asks for its delivery, and one that waits for it.
// allocs/op counts the whole request (client, net/http, Lifeline, and the
// detector's goroutine); the differences between the cases are the
// delivery's cost.
func BenchmarkDeliveryCost(b *testing.B) {
	for _, c := range []struct {
		name          string
		finish, await bool
	}{{"no-finish", false, false}, {"finish-never-asks", true, false}, {"finish-awaits", true, true}} {
		b.Run(c.name, func(b *testing.B) {
			p, _ := lifeline.NewPool(lifeline.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			defer p.Shutdown(context.Background())
			ts := httptest.NewUnstartedServer(p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "hello")
				if !c.finish {
					return
				}
				rn, _ := lifeline.FromContext(r.Context())
				rn.Finish()
				if c.await {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					rn.AwaitDelivery(ctx)
					cancel()
				}
			})))
			p.ConfigureServerWith(ts.Config, lifeline.ServerConfig{DeadPeerTimeout: 4 * time.Second})
			ts.Start()
			defer ts.Close()
			client := ts.Client()
			get := func() {
				resp, err := client.Get(ts.URL)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			get() // the connection
			b.ReportAllocs()
			for b.Loop() {
				get()
			}
		})
	}
}
