//go:build linux

package netns

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestBlocksIn(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want []int
	}{
		{name: "unrelated", out: "inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0", want: nil},
		{name: "host address", out: "inet 10.213.0.5/30 scope global llh", want: []int{1}},
		{name: "route", out: "10.213.1.0/30 dev ll1h2 proto kernel scope link src 10.213.1.1", want: []int{64}},
		{name: "local address", out: "local 10.213.0.9 dev x table local", want: []int{2}},
		{name: "wide prefix", out: "10.213.0.0/28 dev x", want: []int{0, 1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := blocksIn([]byte(tt.out))
			if len(got) != len(tt.want) {
				t.Fatalf("blocksIn(%q) = %v, want %v", tt.out, got, tt.want)
			}
			for _, b := range tt.want {
				if !got[b] {
					t.Errorf("blocksIn(%q) = %v, want block %d", tt.out, got, b)
				}
			}
		})
	}
	if got := blocksIn([]byte("10.0.0.0/8 via 192.0.2.1")); len(got) != subnetCount {
		t.Errorf("blocksIn(10.0.0.0/8) marks %d blocks, want all %d", len(got), subnetCount)
	}
}

func TestParseName(t *testing.T) {
	tests := []struct {
		in     string
		pid, n int
		ok     bool
	}{
		{in: "lifeline-123-45", pid: 123, n: 45, ok: true},
		{in: "lifeline-123", ok: false},
		{in: "other-123-45", ok: false},
		{in: "lifeline-x-1", ok: false},
		{in: "lifeline-0-1", ok: false},
	}
	for _, tt := range tests {
		pid, n, ok := parseName(tt.in)
		if pid != tt.pid || n != tt.n || ok != tt.ok {
			t.Errorf("parseName(%q) = %d, %d, %v, want %d, %d, %v", tt.in, pid, n, ok, tt.pid, tt.n, tt.ok)
		}
	}
}

// listen listens on the pair's host address with lc and closes the listener
// at the end of the test.
func listen(t *testing.T, p *Pair, lc *net.ListenConfig) net.Listener {
	t.Helper()
	ln, err := lc.Listen(context.Background(), "tcp", netip.AddrPortFrom(p.HostAddr, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// connect dials ln from inside the namespace and returns both ends.
func connect(t *testing.T, p *Pair, ln net.Listener) (client, server net.Conn) {
	t.Helper()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, err := p.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, ok := <-accepted
	if !ok {
		t.Fatal("Accept failed")
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}

func TestPairConnect(t *testing.T) {
	var name, link string
	t.Run("connect", func(t *testing.T) {
		p := New(t)
		name, link = p.Name, p.HostLink
		ln := listen(t, p, &net.ListenConfig{})
		client, server := connect(t, p, ln)
		if got := server.RemoteAddr().(*net.TCPAddr).AddrPort().Addr(); got != p.PeerAddr {
			t.Errorf("server sees the client at %v, want %v (inside the namespace)", got, p.PeerAddr)
		}
		if _, err := client.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("server read %q, %v; want \"ping\"", buf, err)
		}
	})
	t.Run("removed", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join("/run/netns", name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace %s still exists after the test (stat: %v)", name, err)
		}
		if _, err := os.Stat(filepath.Join("/sys/class/net", link)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("link %s still exists after the test (stat: %v)", link, err)
		}
	})
}

// TestCutKeepAlive checks the harness against the kernel: after Cut, a server
// connection with keep-alive (idle 1s, one probe after 1s) fails its read
// with ETIMEDOUT about 2s later, never with EOF or a reset.
func TestCutKeepAlive(t *testing.T) {
	t.Parallel()
	p := New(t)
	ln := listen(t, p, &net.ListenConfig{KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: time.Second, Interval: time.Second, Count: 1,
	}})
	client, server := connect(t, p, ln)
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(server, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if err := p.Cut(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = server.SetReadDeadline(start.Add(20 * time.Second))
	_, err := server.Read(make([]byte, 1))
	elapsed := time.Since(start)
	if !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("server Read after Cut = %v, want ETIMEDOUT", err)
	}
	const window = 2 * time.Second
	if elapsed > window+time.Second {
		t.Errorf("ETIMEDOUT after %v, want within %v (+1s slack)", elapsed, window)
	}
	t.Logf("silent peer noticed after %v", elapsed)
}

// TestDialAfterCut checks that Cut stops new connections too.
func TestDialAfterCut(t *testing.T) {
	t.Parallel()
	p := New(t)
	ln := listen(t, p, &net.ListenConfig{})
	if err := p.Cut(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	c, err := p.DialContext(ctx, "tcp", ln.Addr().String())
	if err == nil {
		c.Close()
		t.Fatal("DialContext after Cut succeeded, want a timeout")
	}
}
