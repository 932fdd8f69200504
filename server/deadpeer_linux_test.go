package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/netns"
)

// TestDeadPeerSocket checks the socket schedule alone, with no HTTP: a client
// in a network namespace connects to a listener made by listenConfig, then
// vanishes (every packet dropped). The server's blocked Read (keep-alive
// path) and its stalled Writes (TCP_USER_TIMEOUT path) must fail with
// ETIMEDOUT within the dead-peer timeout.
func TestDeadPeerSocket(t *testing.T) {
	const d = 2 * time.Second
	tests := []struct {
		name string
		use  func(c net.Conn) error // blocks until the connection fails
	}{
		{"read", func(c net.Conn) error {
			_, err := c.Read(make([]byte, 1))
			return err
		}},
		{"write", func(c net.Conn) error {
			buf := make([]byte, 16<<10)
			for {
				if _, err := c.Write(buf); err != nil {
					return err
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := netns.New(t)
			ln, err := newDeadPeer(d).listenConfig().Listen(context.Background(), "tcp", netip.AddrPortFrom(p.HostAddr, 0).String())
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			client, err := p.DialContext(context.Background(), "tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			c, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// One exchange, so the connection is established both ways.
			if _, err := client.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
				t.Fatal(err)
			}
			if err := p.Cut(); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_ = c.SetDeadline(start.Add(30 * time.Second)) // a safety net, far beyond d
			err = tt.use(c)
			elapsed := time.Since(start)
			if !errors.Is(err, syscall.ETIMEDOUT) {
				t.Fatalf("%s after the peer vanished: %v, want ETIMEDOUT", tt.name, err)
			}
			if elapsed > d+time.Second {
				t.Errorf("%s failed after %v, want within %v (+1s slack)", tt.name, elapsed, d)
			}
			t.Logf("%s: silent peer noticed after %v", tt.name, elapsed)
		})
	}
}

// TestSocketOptions checks, with the kernel, that accepted connections carry
// the schedule both ways: from a listener made by the ListenConfig (keep-alive
// per connection, TCP_USER_TIMEOUT inherited from the listening socket) and
// from a foreign listener wrapped in a tuningListener.
func TestSocketOptions(t *testing.T) {
	const d = 5 * time.Second
	dp := newDeadPeer(d)
	tests := []struct {
		name   string
		listen func() (net.Listener, error)
	}{
		{"ListenConfig", func() (net.Listener, error) {
			return dp.listenConfig().Listen(context.Background(), "tcp", "127.0.0.1:0")
		}},
		{"tuningListener", func() (net.Listener, error) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			return &tuningListener{Listener: ln, dp: dp}, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := tt.listen()
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			client, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			c, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got := readSockopts(t, c)
			want := sockopts{keepAlive: true, idle: 2 * time.Second, interval: time.Second, count: 3, user: d * 7 / 8}
			if got != want {
				t.Errorf("accepted socket options = %+v, want %+v", got, want)
			}
		})
	}
}
