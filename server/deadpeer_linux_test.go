package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/netns"
)

// TestDeadPeerSocket checks the socket schedule alone, with no HTTP: a client
// in a network namespace connects to a listener made by listenConfig. A
// client that vanishes (every packet dropped) while the server reads must be
// dropped by keep-alive within the dead-peer timeout, with ETIMEDOUT. A
// client that is alive but never reads (its receive window shut, every
// window probe answered) must not be dropped at all: before issue 13 §1 the
// schedule set TCP_USER_TIMEOUT, which since Linux 5.11 also aborts such a
// connection, and this case failed with ETIMEDOUT after 2 s. (A vanished
// client with writes outstanding is the pool's to notice, from TCP_INFO; see
// TestSilentPeer.)
func TestDeadPeerSocket(t *testing.T) {
	const d = 2 * time.Second
	tests := []struct {
		name    string
		cut     bool
		use     func(c net.Conn) error // blocks until the connection fails
		wait    time.Duration          // deadline of use
		wantErr error
	}{
		{
			name: "silent peer, server reads",
			cut:  true,
			use: func(c net.Conn) error {
				_, err := c.Read(make([]byte, 1))
				return err
			},
			wait:    30 * time.Second, // a safety net, far beyond d
			wantErr: syscall.ETIMEDOUT,
		},
		{
			name:    "live peer that never reads, server writes",
			use:     writeForever,
			wait:    3 * d,
			wantErr: os.ErrDeadlineExceeded,
		},
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
			if tt.cut {
				if err := p.Cut(); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			_ = c.SetDeadline(start.Add(tt.wait))
			err = tt.use(c)
			elapsed := time.Since(start)
			t.Logf("%s: %v after %v; TCP_INFO %s", tt.name, err, elapsed.Round(time.Millisecond), tcpInfoOf(t, c))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("%s: %v, want %v", tt.name, err, tt.wantErr)
			}
			if tt.wantErr == syscall.ETIMEDOUT && elapsed > d+time.Second {
				t.Errorf("%s failed after %v, want within %v (+1s slack)", tt.name, elapsed, d)
			}
		})
	}
}

// writeForever writes to c until a write fails.
func writeForever(c net.Conn) error {
	buf := make([]byte, 16<<10)
	for {
		if _, err := c.Write(buf); err != nil {
			return err
		}
	}
}

// TestSocketOptions checks, with the kernel, that accepted connections carry
// the schedule both ways: from a listener made by the ListenConfig and from a
// foreign listener wrapped in a tuningListener. Keep-alive is set per
// connection; TCP_USER_TIMEOUT stays unset (issue 13 §1: it would cut
// readers that are alive but slow).
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
			want := sockopts{keepAlive: true, idle: 2 * time.Second, interval: time.Second, count: 3, user: 0}
			if got != want {
				t.Errorf("accepted socket options = %+v, want %+v", got, want)
			}
		})
	}
}
