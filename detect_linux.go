//go:build linux

package lifeline

import (
	"log/slog"
	"net"
	"sync"
	"syscall"
	"unsafe"
)

// detector watches client sockets for EPOLLRDHUP (FIN), EPOLLHUP and
// EPOLLERR (RST, keep-alive or user timeout) in one epoll instance served by
// one goroutine. Only those events are asked for, never EPOLLIN, so a
// pipelined request or an unread body does not wake it, and an idle run costs
// nothing. Registration is per connection, in ConnContext, not per request.
// The epoll control calls run inside RawConn.Control, which keeps the
// descriptor from being closed and reused meanwhile.
type detector struct {
	mu      sync.Mutex // guards the fields below
	started bool
	stopped bool
	epfd    int
	wake    [2]int // pipe: a byte on wake[1] stops the loop
	next    uint64
	byToken map[uint64]*connWatch
	byConn  map[net.Conn]*connWatch
	done    chan struct{}
}

func (d *detector) startLocked(log *slog.Logger) bool {
	if d.started {
		return !d.stopped
	}
	d.started = true
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		log.Warn("lifeline: epoll unavailable; abort detection falls back to the request context", "err", err)
		d.stopped = true
		return false
	}
	if err := syscall.Pipe2(d.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		log.Warn("lifeline: pipe unavailable; abort detection falls back to the request context", "err", err)
		d.stopped = true
		return false
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN} // token 0: wake-up
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, d.wake[0], &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(d.wake[0])
		syscall.Close(d.wake[1])
		d.stopped = true
		return false
	}
	d.epfd = epfd
	d.byToken = make(map[uint64]*connWatch)
	d.byConn = make(map[net.Conn]*connWatch)
	d.done = make(chan struct{})
	go d.loop()
	return true
}

// watch registers c and returns its watch, or nil if c cannot be watched.
func (d *detector) watch(c net.Conn, log *slog.Logger) *connWatch {
	rc, ok := rawConn(c)
	if !ok {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.startLocked(log) {
		return nil
	}
	d.next++
	cw := &connWatch{token: d.next, rc: rc}
	ev := syscall.EpollEvent{Events: syscall.EPOLLRDHUP}
	ev.Fd, ev.Pad = int32(uint32(cw.token)), int32(uint32(cw.token>>32))
	var ctlErr error
	if err := rc.Control(func(fd uintptr) {
		ctlErr = syscall.EpollCtl(d.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	}); err != nil || ctlErr != nil {
		return nil
	}
	d.byToken[cw.token] = cw
	d.byConn[c] = cw
	return cw
}

// unwatch forgets c (closed or hijacked).
func (d *detector) unwatch(c net.Conn) {
	d.mu.Lock()
	cw := d.byConn[c]
	if cw == nil {
		d.mu.Unlock()
		return
	}
	delete(d.byConn, c)
	delete(d.byToken, cw.token)
	epfd, stopped := d.epfd, d.stopped
	d.mu.Unlock()
	if !stopped {
		// Fails harmlessly when c is already closed: the kernel dropped the
		// registration with the last descriptor.
		_ = cw.rc.Control(func(fd uintptr) {
			_ = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
		})
	}
}

func (d *detector) loop() {
	defer close(d.done)
	events := make([]syscall.EpollEvent, 64)
	for {
		n, err := syscall.EpollWait(d.epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			token := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if token == 0 {
				return
			}
			d.mu.Lock()
			cw := d.byToken[token]
			d.mu.Unlock()
			if cw == nil {
				continue
			}
			cause := CauseClosed
			if err := cw.rc.Control(func(fd uintptr) {
				cause = classifyFD(int(fd))
				// Level-triggered: stop watching once it fired.
				_ = syscall.EpollCtl(d.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
			}); err != nil {
				// net/http closed the socket first: it met the error itself
				// and reports it, with its errno, through the failed write
				// or the request context. Guessing here would hide it.
				continue
			}
			cw.fire(cause)
		}
	}
}

// stop ends the loop and releases the epoll instance. Later watch calls do
// nothing.
func (d *detector) stop() {
	d.mu.Lock()
	if !d.started || d.stopped {
		d.started, d.stopped = true, true
		d.mu.Unlock()
		return
	}
	d.stopped = true
	d.mu.Unlock()
	_, _ = syscall.Write(d.wake[1], []byte{1})
	<-d.done
	syscall.Close(d.epfd)
	syscall.Close(d.wake[0])
	syscall.Close(d.wake[1])
}

// classifyFD tells how the peer of a dead or dying socket left. SO_ERROR
// says it when nobody has read the error yet; otherwise net/http's own read
// consumed it, and the TCP state tells: CLOSE_WAIT is a FIN, CLOSE after
// unanswered keep-alive probes or retransmissions is a silent peer, CLOSE
// otherwise a reset.
func classifyFD(fd int) Cause {
	if soErr, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ERROR); err == nil {
		switch syscall.Errno(soErr) {
		case syscall.ECONNRESET, syscall.EPIPE:
			return CauseReset
		case syscall.ETIMEDOUT, syscall.EHOSTUNREACH:
			return CauseSilentPeer
		}
	}
	var ti syscall.TCPInfo
	n := uint32(unsafe.Sizeof(ti))
	_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), syscall.IPPROTO_TCP, syscall.TCP_INFO,
		uintptr(unsafe.Pointer(&ti)), uintptr(unsafe.Pointer(&n)), 0)
	if errno != 0 {
		return CauseClosed
	}
	const tcpClose = 7 // TCP_CLOSE in include/net/tcp_states.h
	if ti.State == tcpClose {
		if ti.Probes > 0 || ti.Retransmits > 0 || ti.Backoff > 0 {
			return CauseSilentPeer
		}
		return CauseReset
	}
	return CauseClosed
}

// classify is classifyFD for a watched connection; CauseClosed if its
// socket is already gone.
func (cw *connWatch) classify() Cause {
	c := CauseClosed
	_ = cw.rc.Control(func(fd uintptr) { c = classifyFD(int(fd)) })
	return c
}
