//go:build linux

package lifeline

import (
	"golang.org/x/sys/unix"
)

const tcpClose = 7 // TCP_CLOSE in include/net/tcp_states.h

// ackedBytes returns the number of bytes the peer has acknowledged on the
// connection (TCP_INFO's tcpi_bytes_acked), and what became of the socket:
// sockOpen, sockReset (reset, or given up after unanswered retransmissions:
// what was not acknowledged by then never will be), or sockGone (closed by
// net/http: n is then the last count seen, or -1).
func (cw *connWatch) ackedBytes() (n int64, st sockState) {
	var acked int64 = -1
	st = sockGone
	_ = cw.rc.Control(func(fd uintptr) {
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
	err := cw.rc.Control(func(fd uintptr) {
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
	return pos, ok && err == nil
}

// noteAcked records the acknowledged count of fd, inside RawConn.Control.
func (cw *connWatch) noteAcked(fd int) {
	if ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
		cw.acked.Store(int64(ti.Bytes_acked))
	}
}
