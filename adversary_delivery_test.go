package lifeline_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/cstest"
	"github.com/lifeline-go/lifeline/internal/wait"
)

// openFDs returns the number of the process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// TestAdversaryDeliveryDescriptors: the duplicate descriptor a delivery
// holds is released whatever the client does and whether anybody asks:
// it reads all, resets before reading, or stalls until the server closes
// the connection (released a dead-peer timeout after the close). After many
// connections the process has no more descriptors than before.
func TestAdversaryDeliveryDescriptors(t *testing.T) {
	skipUnlessLinux(t)
	const rounds = 12
	const timeout = 400 * time.Millisecond
	// The detector's own descriptors (its epoll instance and wake-up) are
	// opened with the first watched connection: a leak per connection
	// would be at least rounds.
	const slack = 3
	cstest.Run(t, func(t *testing.T, m cstest.Mode) {
		for _, client := range []string{"read all", "reset unread", "stalled, server closes"} {
			t.Run(client, func(t *testing.T) {
				p := newPool(t)
				var finished sync.WaitGroup
				h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					defer finished.Done()
					finishStalling(w, r) // nobody asks for the delivery: the detector decides
				}))
				ts := cstest.Start(t, m, h, func(s *http.Server) {
					p.ConfigureServerWith(s, lifeline.ServerConfig{DeadPeerTimeout: timeout})
				})
				before := openFDs(t)
				var raw []net.Conn
				for range rounds {
					finished.Add(1)
					switch client {
					case "read all":
						resp, err := ts.Client.Get(ts.URL)
						if err != nil {
							t.Fatal(err)
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					default:
						c, tcp := dialStalled(t, ts, m)
						if client == "reset unread" {
							tcp.SetLinger(0)
							tcp.Close()
						} else {
							raw = append(raw, c)
						}
					}
				}
				finished.Wait()
				ts.Client.CloseIdleConnections()
				if client == "stalled, server closes" {
					ts.CloseClientConnections() // net/http closes; the deliveries are undecided
				}
				p.WaitIdle(5 * time.Second)
				var now int
				if !wait.Until(5*time.Second, func() bool { now = openFDs(t); return now <= before+len(raw)+slack }) {
					t.Errorf("%d descriptors open after %d connections, %d before (+%d client sockets kept)", now, rounds, before, len(raw))
				}
				for _, c := range raw {
					c.Close()
				}
			})
		}
	})
}

// TestAdversaryDeliveryResponseShapes: responses whose stream ends with a
// frame other than DATA (trailers, an empty body), or that start with a 1xx,
// are delivered to a client that reads them, and never reported delivered
// to a client that stopped reading after the header with most of the body
// still unsent.
func TestAdversaryDeliveryResponseShapes(t *testing.T) {
	skipUnlessLinux(t)
	type shape struct {
		name    string
		size    int
		trailer bool
		early   bool // a 103 before the answer
	}
	shapes := []shape{
		{"empty body", 0, false, false},
		{"trailers", 256 << 10, true, false},
		{"large trailers", 256 << 10, true, false},
		{"103 first", 256 << 10, false, true},
	}
	cstest.Run(t, func(t *testing.T, m cstest.Mode) {
		for _, sh := range shapes {
			if sh.name == "large trailers" && m == cstest.H1 {
				continue // Go's client refuses a chunked body's trailer over 4 KiB; CONTINUATIONs are HTTP/2's
			}
			t.Run(sh.name, func(t *testing.T) {
				p := newPool(t)
				got := make(chan lifeline.Delivery, 1)
				var stall atomic.Bool // the client stalls after the header
				h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					rn, _ := lifeline.FromContext(r.Context())
					rn.IgnoreUserAbort(true)
					if sh.early {
						w.Header().Set("Link", "</a.css>; rel=preload")
						w.WriteHeader(http.StatusEarlyHints)
					}
					if sh.trailer {
						w.Header().Set("Trailer", "X-Sum")
					}
					w.WriteHeader(200)
					http.NewResponseController(w).Flush()
					size := sh.size
					if stall.Load() {
						size = stallSize
					}
					io.WriteString(w, strings.Repeat("s", size))
					if sh.trailer {
						v := "ok"
						if sh.name == "large trailers" {
							v = strings.Repeat("t", 40<<10) // more than one frame: CONTINUATIONs
						}
						w.Header().Set("X-Sum", v)
					}
					rn.Finish()
					limit := 5 * time.Second
					if stall.Load() {
						limit = 300 * time.Millisecond
					}
					ctx, cancel := context.WithTimeout(context.Background(), limit)
					defer cancel()
					d, _ := rn.AwaitDelivery(ctx)
					got <- d
				}))
				ts := cstest.Start(t, m, h, watched(p), func(s *http.Server) { s.MaxHeaderBytes = 1 << 20 })
				resp, err := ts.Client.Get(ts.URL)
				if err != nil {
					t.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if n != int64(sh.size) {
					t.Fatalf("read %d bytes, want %d", n, sh.size)
				}
				if sh.trailer && resp.Trailer.Get("X-Sum") == "" {
					t.Errorf("trailer lost: %v", resp.Trailer)
				}
				if d := <-got; d != lifeline.Delivered {
					t.Errorf("read all: %v, want delivered", d)
				}
				if sh.size == 0 {
					return // nothing to stall on
				}
				stall.Store(true)
				c, _ := dialStalled(t, ts, m)
				if d := <-got; d == lifeline.Delivered {
					t.Errorf("client stalled after the header: %v, want pending", d)
				}
				c.Close()
			})
		}
	})
}

// TestAdversaryHijackDescriptors: hijacked HTTP/1 connections, on a server
// whose pool watches its connections, leave the detector: after many, the
// process holds no descriptor more than before, whether the handler or the
// client closes first; Finish after Hijack fails and Hijack after Finish
// fails.
func TestAdversaryHijackDescriptors(t *testing.T) {
	skipUnlessLinux(t)
	const rounds, slack = 20, 3
	p := newPool(t)
	errs := make(chan error, 2*rounds)
	h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		if r.URL.Path == "/finish" {
			rn.Finish()
			if _, _, err := http.NewResponseController(w).Hijack(); err == nil {
				errs <- fmt.Errorf("Hijack after Finish succeeded")
			}
			errs <- nil
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			errs <- err
			return
		}
		defer c.Close()
		if err := rn.Finish(); err == nil {
			errs <- fmt.Errorf("Finish after Hijack succeeded")
			return
		}
		brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		brw.Flush()
		if r.URL.Path == "/client-closes" {
			io.Copy(io.Discard, brw) // until the client closes
		}
		errs <- nil
	}))
	ts := cstest.Start(t, cstest.H1, h, watched(p))
	before := openFDs(t)
	for i := range rounds {
		path := []string{"/server-closes", "/client-closes"}[i%2]
		c, err := net.Dial("tcp", ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		c.Close()
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	resp, err := ts.Client.Get(ts.URL + "/finish")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-errs; err != nil {
		t.Error(err)
	}
	ts.Client.CloseIdleConnections()
	p.WaitIdle(5 * time.Second)
	var now int
	if !wait.Until(5*time.Second, func() bool { now = openFDs(t); return now <= before+slack }) {
		t.Errorf("%d descriptors open after %d hijacked connections, %d before", now, rounds, before)
	}
}

// TestAdversaryDeliveryIdleTimeoutClose: the server's idle timeout closes
// the connection (HTTP/2: GOAWAY and close; HTTP/1: close) while the client
// has not yet read the end of its answer; the client then reads it all. The
// duplicate descriptor keeps the socket, so the answer is delivered, never
// undelivered nor unknown.
func TestAdversaryDeliveryIdleTimeoutClose(t *testing.T) {
	skipUnlessLinux(t)
	cstest.Run(t, func(t *testing.T, m cstest.Mode) {
		p := newPool(t)
		got := make(chan lifeline.Delivery, 1)
		h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn := finishStalling(w, r)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			d, _ := rn.AwaitDelivery(ctx)
			got <- d
		}))
		closed := make(chan struct{}, 1)
		ts := cstest.Start(t, m, h, watched(p), func(s *http.Server) {
			s.IdleTimeout = 50 * time.Millisecond
			prev := s.ConnState
			s.ConnState = func(c net.Conn, st http.ConnState) {
				prev(c, st)
				if st == http.StateClosed {
					select {
					case closed <- struct{}{}:
					default:
					}
				}
			}
		})
		c, _ := dialStalled(t, ts, m)
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("the server did not close the idle connection")
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, c) // the rest of the answer, to the server's close
		if d := <-got; d != lifeline.Delivered {
			t.Errorf("read after the idle close: %v, want delivered", d)
		}
	})
}
