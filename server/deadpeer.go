package server

import (
	"fmt"
	"log/slog"
	"net"
	"time"
)

// deadPeer is the socket schedule derived from a dead-peer timeout (see
// [WithDeadPeerTimeout]). The zero value leaves the sockets alone.
type deadPeer struct {
	keepAlive net.KeepAliveConfig
}

// newDeadPeer derives TCP keep-alive from d, for the time a connection has
// nothing outstanding (a run that writes nothing, an idle connection):
// keep-alive counts whole seconds, so d is rounded up to one; the first
// probe goes out after about 2/5 of it, then probes follow at an interval
// that divides the rest, about three of them, so one lost probe does not
// condemn a live peer, and the kernel drops a peer that answered none at
// about d after its last packet (ETIMEDOUT, which the pool classifies as
// [lifeline.ErrSilentPeer]).
//
// While data or probes are outstanding the kernel sends no keep-alive; the
// pool decides then, from TCP_INFO ([lifeline.ServerConfig]). The schedule
// sets no TCP_USER_TIMEOUT: since Linux 5.11 it also aborts a connection
// whose receive window stays zero that long, although the peer answers every
// window probe, and so cut slow and paused readers (issue 13 §1).
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

// listenConfig returns the ListenConfig for the schedule: keep-alive for
// every accepted connection.
func (dp deadPeer) listenConfig() *net.ListenConfig {
	return &net.ListenConfig{KeepAliveConfig: dp.keepAlive}
}

// tune applies the schedule to one accepted connection, for listeners that
// [Server.Listen] did not create. Connections that are not TCP are left alone.
func (dp deadPeer) tune(c net.Conn) error {
	if !dp.keepAlive.Enable {
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
	return nil
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
