package server

import (
	"fmt"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sockopts is what the kernel says about a TCP socket's dead-peer settings.
type sockopts struct {
	keepAlive bool
	idle      time.Duration
	interval  time.Duration
	count     int
	user      time.Duration
}

// readSockopts reads the dead-peer settings of c's socket.
func readSockopts(t *testing.T, c net.Conn) sockopts {
	t.Helper()
	tc, ok := c.(*net.TCPConn)
	if !ok {
		t.Fatalf("connection is a %T, want *net.TCPConn", c)
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var (
		o    sockopts
		errs []error
	)
	get := func(fd, level, opt int) int {
		v, err := unix.GetsockoptInt(fd, level, opt)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	err = rc.Control(func(fd uintptr) {
		f := int(fd)
		o.keepAlive = get(f, unix.SOL_SOCKET, unix.SO_KEEPALIVE) != 0
		o.idle = time.Duration(get(f, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)) * time.Second
		o.interval = time.Duration(get(f, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL)) * time.Second
		o.count = get(f, unix.IPPROTO_TCP, unix.TCP_KEEPCNT)
		o.user = time.Duration(get(f, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT)) * time.Millisecond
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) > 0 {
		t.Fatalf("getsockopt: %v", errs)
	}
	return o
}

// tcpInfoOf returns what the kernel says about c's connection, in short.
func tcpInfoOf(t *testing.T, c net.Conn) string {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var (
		ti   *unix.TCPInfo
		terr error
	)
	if err := rc.Control(func(fd uintptr) { ti, terr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil || terr != nil {
		return fmt.Sprintf("unavailable (%v, %v)", err, terr)
	}
	return fmt.Sprintf("state %d, unacked %d, probes %d, backoff %d, retransmits %d, last ack %d ms ago, not sent %d, send window %d",
		ti.State, ti.Unacked, ti.Probes, ti.Backoff, ti.Retransmits, ti.Last_ack_recv, ti.Notsent_bytes, ti.Snd_wnd)
}
