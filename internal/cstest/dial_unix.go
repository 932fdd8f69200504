//go:build unix

package cstest

import (
	"net"
	"syscall"
	"time"
)

// DialRecvBuf connects to addr over TCP with the client's receive buffer
// (SO_RCVBUF) set to size before the connection is made, so that the window
// it advertises is small from the start: an answer larger than that waits,
// unacknowledged, in the server's send queue until the client reads. It is
// how tests make a slow or stalled reader.
func DialRecvBuf(addr string, size int) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size)
		}); err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}
