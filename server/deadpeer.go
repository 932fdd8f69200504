package server

import (
	"fmt"
	"log/slog"
	"net"
	"syscall"
	"time"
)

// deadPeer is the socket schedule derived from a dead-peer timeout (see
// [WithDeadPeerTimeout]). The zero value leaves the sockets alone.
type deadPeer struct {
	keepAlive   net.KeepAliveConfig
	userTimeout time.Duration // TCP_USER_TIMEOUT; 0 leaves it unset
}

// newDeadPeer derives keep-alive and TCP_USER_TIMEOUT from d. Keep-alive
// counts whole seconds, so d is rounded up to one; the first probe goes out
// after about 2/5 of it, then probes follow at an interval that divides the
// rest, about three of them, so one lost probe does not condemn a live peer.
//
// TCP_USER_TIMEOUT is 7/8 of d. A write left unacknowledged fails about one
// retransmission timeout after it (measured: 0.2 to 0.4 s late on a veth
// link, more with a longer round trip), and the margin keeps the total within
// d. On Linux the user timeout also governs keep-alive: the kernel drops the
// connection at the first probe timer at which nothing has been received for
// the user timeout and a probe is unanswered, whatever the probe count. The
// probe timers fire on whole seconds, so a silent peer is dropped at about d
// after its last packet; Count only matters on other systems.
func newDeadPeer(d time.Duration) deadPeer {
	if d <= 0 {
		return deadPeer{}
	}
	secs := int((d + time.Second - 1) / time.Second)
	idle := max(1, secs*2/5)
	rest := max(1, secs-idle)
	interval := max(1, rest/3)
	count := (rest + interval - 1) / interval
	return deadPeer{
		keepAlive: net.KeepAliveConfig{
			Enable:   true,
			Idle:     time.Duration(idle) * time.Second,
			Interval: time.Duration(interval) * time.Second,
			Count:    count,
		},
		userTimeout: d - d/8,
	}
}

// h2Ping splits an HTTP/2 PING timeout d into the time without a frame after
// which a PING is sent and the time allowed for its answer.
func h2Ping(d time.Duration) (send, answer time.Duration) {
	if d <= 0 {
		return 0, 0
	}
	send = d * 2 / 5
	return send, d - send
}

// listenConfig returns the ListenConfig for the schedule: keep-alive for every
// accepted connection, and TCP_USER_TIMEOUT on the listening socket, which
// accepted sockets inherit.
func (dp deadPeer) listenConfig() *net.ListenConfig {
	lc := &net.ListenConfig{}
	if dp.userTimeout == 0 {
		return lc
	}
	lc.KeepAliveConfig = dp.keepAlive
	lc.Control = func(_, _ string, c syscall.RawConn) error {
		return setUserTimeout(c, dp.userTimeout)
	}
	return lc
}

// tune applies the schedule to one accepted connection, for listeners that
// [Server.Listen] did not create. Connections that are not TCP are left alone.
func (dp deadPeer) tune(c net.Conn) error {
	if dp.userTimeout == 0 {
		return nil
	}
	for {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	if err := tc.SetKeepAliveConfig(dp.keepAlive); err != nil {
		return fmt.Errorf("server: set keep-alive: %w", err)
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return fmt.Errorf("server: set TCP_USER_TIMEOUT: %w", err)
	}
	return setUserTimeout(rc, dp.userTimeout)
}

// tuningListener applies a dead-peer schedule to every connection it accepts.
type tuningListener struct {
	net.Listener
	dp  deadPeer
	log *slog.Logger
}

// Accept accepts a connection and tunes it. A connection that cannot be
// tuned is served anyway (Accept must not fail for it, or Serve would stop):
// the failure is logged.
func (l *tuningListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if err := l.dp.tune(c); err != nil {
		l.log.Warn("server: dead-peer detection not set on connection", "remote", c.RemoteAddr().String(), "err", err)
	}
	return c, nil
}
