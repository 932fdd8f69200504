//go:build linux

package lifeline

import (
	"time"

	"golang.org/x/sys/unix"
)

const tcpClose = 7 // TCP_CLOSE in include/net/tcp_states.h

// control runs f on a descriptor of the watched socket: net/http's while it
// is open (inside RawConn.Control, which keeps it from being closed
// meanwhile), else the watch's duplicate, if one is held. It reports whether
// f ran.
func (cw *connWatch) control(f func(fd uintptr)) bool {
	if err := cw.rc.Control(f); err == nil {
		return true
	}
	cw.fdMu.Lock()
	defer cw.fdMu.Unlock()
	if cw.dup < 0 {
		return false
	}
	f(uintptr(cw.dup))
	return true
}

// holdFD takes a duplicate of the socket's descriptor, so that the socket
// outlives net/http's close while deliveries on it are undecided. Only on
// a connection with a dead-peer timeout: that bounds how long it is held
// (see giveUp). cw.mu is held by the caller.
func (cw *connWatch) holdFD() {
	if cw.timeout <= 0 {
		return
	}
	cw.fdMu.Lock()
	defer cw.fdMu.Unlock()
	if cw.dup >= 0 {
		return
	}
	_ = cw.rc.Control(func(fd uintptr) {
		if nfd, err := unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0); err == nil {
			cw.dup = nfd
		}
	})
}

// releaseFD closes the duplicate descriptor, if held. It reports whether
// net/http had closed the connection: the socket is then closed, and the
// watch is done. cw.mu is held by the caller.
func (cw *connWatch) releaseFD() (wasClosed bool) {
	cw.fdMu.Lock()
	defer cw.fdMu.Unlock()
	if cw.dup >= 0 {
		_ = unix.Close(cw.dup)
		cw.dup = -1
	}
	return !cw.closedAt.IsZero()
}

// keepClosed is called when net/http has closed its descriptor. If the
// watch holds a duplicate, the socket is still open: keepClosed shuts its
// sending side down, which sends the FIN net/http's close meant to send
// (after the data still queued), records when, and reports true; the
// socket closes when the duplicate is released. cw.mu is held by the
// caller.
func (cw *connWatch) keepClosed() bool {
	cw.fdMu.Lock()
	defer cw.fdMu.Unlock()
	if cw.dup < 0 {
		return false
	}
	_ = unix.Shutdown(cw.dup, unix.SHUT_WR)
	cw.closedAt = time.Now()
	return true
}

// giveUp decides the deliveries of a connection net/http closed DeadPeerTimeout
// ago and that are still unacknowledged, though the peer is not silent (it
// acknowledges, but does not take everything: a shut receive window), as
// unknown, and releases the duplicate descriptor, so that it is held no
// longer than that. It reports whether it did. The detector's goroutine
// calls it.
func (cw *connWatch) giveUp(now time.Time) bool {
	cw.fdMu.Lock()
	at := cw.closedAt
	cw.fdMu.Unlock()
	if at.IsZero() || now.Sub(at) < cw.timeout {
		return false
	}
	cw.abandon(DeliveryUnknown)
	return true
}

// ackedBytes returns the number of bytes the peer has acknowledged on the
// connection (TCP_INFO's tcpi_bytes_acked), and what became of the socket:
// sockOpen, sockReset (reset, or given up after unanswered retransmissions:
// what was not acknowledged by then never will be), or sockGone (no
// descriptor left: n is then the last count seen, or -1).
func (cw *connWatch) ackedBytes() (n int64, st sockState) {
	var acked int64 = -1
	st = sockGone
	cw.control(func(fd uintptr) {
		if ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			acked, st = int64(ti.Bytes_acked), sockOpen
			if ti.State == tcpClose {
				st = sockReset
			}
		}
	})
	if st == sockGone {
		return cw.acked.Load(), sockGone
	}
	cw.acked.Store(acked)
	return acked, st
}

// position returns the connection's byte position after everything written
// to it so far: the bytes acknowledged plus those still in the send queue
// (SIOCOUTQ: unacknowledged and unsent). The two are read in separate calls,
// so the read is repeated until the acknowledged count did not move across
// it.
func (cw *connWatch) position() (pos int64, ok bool) {
	cw.control(func(fd uintptr) {
		for range 8 {
			a1, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
			if err != nil {
				return
			}
			outq, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
			if err != nil {
				return
			}
			a2, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
			if err != nil {
				return
			}
			if a1.Bytes_acked == a2.Bytes_acked {
				pos, ok = int64(a2.Bytes_acked)+int64(outq), true
				cw.acked.Store(int64(a2.Bytes_acked))
				return
			}
		}
	})
	return pos, ok
}

// noteAcked records the acknowledged count of fd, a descriptor of the
// watched socket.
func (cw *connWatch) noteAcked(fd int) {
	if ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
		cw.acked.Store(int64(ti.Bytes_acked))
	}
}
