package server

import (
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// setUserTimeout sets TCP_USER_TIMEOUT: data left unacknowledged for d (and,
// with keep-alive, a peer silent for d) makes the socket fail with ETIMEDOUT
// instead of retransmitting for up to 15 minutes (tcp_retries2).
func setUserTimeout(c syscall.RawConn, d time.Duration) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d.Milliseconds()))
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("server: set TCP_USER_TIMEOUT: %w", err)
	}
	return nil
}
