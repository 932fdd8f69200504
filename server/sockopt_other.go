//go:build !linux

package server

import (
	"syscall"
	"time"
)

// setUserTimeout does nothing outside Linux, which alone has
// TCP_USER_TIMEOUT: keep-alive still finds silent idle peers, but an
// unacknowledged write is retried for as long as the system's retransmission
// limit allows.
func setUserTimeout(syscall.RawConn, time.Duration) error { return nil }
