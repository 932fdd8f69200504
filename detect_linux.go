//go:build linux

package lifeline

import (
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// detector watches client sockets for EPOLLRDHUP (FIN), EPOLLHUP and
// EPOLLERR (RST, keep-alive timeout) in one epoll instance served by one
// goroutine. Only those events are asked for, never EPOLLIN, so a pipelined
// request or an unread body does not wake it, and an idle run costs nothing.
// Registration is per connection, in ConnContext, not per request. The epoll
// control calls run inside RawConn.Control, which keeps the descriptor from
// being closed and reused meanwhile.
//
// The same goroutine decides that a peer went silent (see [ServerConfig]):
// while runs are attached to a connection with a dead-peer timeout, it reads
// the connection's TCP_INFO every interval, its epoll wait's own timeout, and
// sleeps without one while no run is attached anywhere.
type detector struct {
	mu       sync.Mutex // guards the fields below
	started  bool
	stopped  bool
	epfd     int
	wake     [2]int // pipe: a byte on wake[1] wakes the loop (to stop, or to start checking)
	next     uint64
	byToken  map[uint64]*connWatch
	byConn   map[net.Conn]*connWatch
	active   map[*connWatch]struct{} // watches with a timeout and runs attached
	interval time.Duration           // between two TCP_INFO checks; 0: none configured
	done     chan struct{}
}

// minCheckInterval bounds the TCP_INFO check rate for very short timeouts.
const minCheckInterval = 10 * time.Millisecond

// configure makes the loop check connections with a dead-peer timeout of d
// at least every d/8.
func (d *detector) configure(timeout time.Duration) {
	if timeout <= 0 {
		return
	}
	iv := max(timeout/8, minCheckInterval)
	d.mu.Lock()
	if d.interval == 0 || iv < d.interval {
		d.interval = iv
	}
	d.mu.Unlock()
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
	d.active = make(map[*connWatch]struct{})
	d.done = make(chan struct{})
	go d.loop()
	return true
}

// watch registers c, whose dead-peer timeout is timeout (0: none), and
// returns its watch, or nil if c cannot be watched.
func (d *detector) watch(c net.Conn, log *slog.Logger, timeout time.Duration) *connWatch {
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
	cw := &connWatch{token: d.next, conn: c, rc: rc, det: d, timeout: timeout, dup: -1}
	cw.acked.Store(-1)
	// One shot: the loop needs the first event only. A registration cannot
	// be removed once net/http closed its descriptor while the watch holds
	// a duplicate (see connWatch.track), and would otherwise report a
	// pending FIN for ever.
	ev := syscall.EpollEvent{Events: syscall.EPOLLRDHUP | unix.EPOLLONESHOT}
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

// lookup returns c's watch, or nil.
func (d *detector) lookup(c net.Conn) *connWatch {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.byConn[c]
}

// unwatch forgets c, closed or hijacked, once no delivery on it is left
// undecided (see connWatch.closed).
func (d *detector) unwatch(c net.Conn, hijacked bool) {
	d.mu.Lock()
	cw := d.byConn[c]
	delete(d.byConn, c)
	d.mu.Unlock()
	if cw == nil || cw.closed(hijacked) {
		return
	}
	d.forget(cw)
}

// forget drops cw. It may be called with cw.mu held.
func (d *detector) forget(cw *connWatch) {
	d.mu.Lock()
	if d.byToken[cw.token] != cw {
		d.mu.Unlock()
		return
	}
	delete(d.byToken, cw.token)
	delete(d.active, cw)
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

// activate puts cw, which has just got its first run, among the connections
// checked for silence; the first one wakes the loop to start its checks. It
// may be called with cw.mu held.
func (d *detector) activate(cw *connWatch) {
	if cw.timeout <= 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped || d.byToken[cw.token] != cw {
		return
	}
	if _, ok := d.active[cw]; ok {
		return
	}
	d.active[cw] = struct{}{}
	if len(d.active) == 1 {
		_, _ = syscall.Write(d.wake[1], []byte{1})
	}
}

// deactivate takes cw (whose last run has gone, or which was found silent)
// off the checked connections. It may be called with cw.mu held.
func (d *detector) deactivate(cw *connWatch) {
	if cw.timeout <= 0 {
		return
	}
	d.mu.Lock()
	delete(d.active, cw)
	d.mu.Unlock()
}

// loop serves the epoll instance and, while connections are active, runs
// the silence check every interval, until stop.
func (d *detector) loop() {
	defer close(d.done)
	events := make([]syscall.EpollEvent, 64)
	var (
		due    time.Time    // of the next check; zero while nothing is active
		checks []*connWatch // reused by check
	)
	for {
		d.mu.Lock()
		iv, active := d.interval, len(d.active) > 0
		d.mu.Unlock()
		wait := -1
		if active {
			now := time.Now()
			if due.IsZero() {
				due = now.Add(iv)
			}
			wait = int((due.Sub(now) + time.Millisecond - 1) / time.Millisecond)
			wait = max(wait, 0)
		} else {
			due = time.Time{}
		}
		n, err := syscall.EpollWait(d.epfd, events, wait)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			token := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if token == 0 {
				var buf [16]byte
				for {
					if n, _ := syscall.Read(d.wake[0], buf[:]); n <= 0 {
						break
					}
				}
				d.mu.Lock()
				stopped := d.stopped
				d.mu.Unlock()
				if stopped {
					return
				}
				continue
			}
			d.mu.Lock()
			cw := d.byToken[token]
			d.mu.Unlock()
			if cw == nil {
				continue
			}
			cause := CauseClosed
			if !cw.control(func(fd uintptr) {
				cause = classifyFD(int(fd))
				cw.noteAcked(int(fd)) // the last count before net/http closes it
			}) {
				// net/http closed the socket first: it met the error itself
				// and reports it, with its errno, through the failed write
				// or the request context. Guessing here would hide it.
				continue
			}
			cw.fire(cause)
		}
		if !due.IsZero() {
			if now := time.Now(); !now.Before(due) {
				checks = d.check(now, checks[:0])
				due = now.Add(iv)
			}
		}
	}
}

// check reads the TCP_INFO of every active connection and condemns the
// silent ones. buf is reused for the snapshot of the active set and
// returned.
func (d *detector) check(now time.Time, buf []*connWatch) []*connWatch {
	d.mu.Lock()
	for cw := range d.active {
		buf = append(buf, cw)
	}
	d.mu.Unlock()
	for i, cw := range buf {
		buf[i] = nil
		if cw.giveUp(now) {
			continue
		}
		if !cw.silent(now) {
			cw.settle()
			continue
		}
		d.deactivate(cw)
		cw.fire(CauseSilentPeer)
		// Wake any read or write blocked on the connection, so that net/http
		// sees the error and closes it.
		_ = cw.conn.SetDeadline(time.Unix(1, 0))
	}
	return buf
}

// silent reports whether cw's peer has acknowledged nothing for its
// dead-peer timeout while data or probes were outstanding, from the kernel's
// view (TCP_INFO), as of now. Only the detector's goroutine calls it.
// It also leaves in quietSince what classify needs: the last acknowledgement
// if something was outstanding at two checks in a row.
//
// Outstanding means sent and not yet acknowledged: data (Unacked) or a
// probe, zero-window or keep-alive (Probes). A peer that answers window
// probes is alive however long its window stays shut: the kernel resets
// Probes to 0 at each answer, and between two probes nothing is outstanding
// (Notsent_bytes and Backoff stay up, and Last_ack_recv grows with the
// probes' exponential backoff, so neither says anything about silence).
// Last_ack_recv alone would be stale for data just sent after a quiet spell,
// so the silence counts from the first check that saw something outstanding,
// too: the later of the two. A live peer may leave a window probe
// unanswered for up to one probe interval, about a second: its kernel
// answers out-of-window segments at most every 500 ms
// (net.ipv4.tcp_invalid_ratelimit), and the first probes come faster. The
// dead-peer timeout must be longer than that (package server's minimum is
// 2 s).
func (cw *connWatch) silent(now time.Time) bool {
	var (
		ti    syscall.TCPInfo
		tiErr error
	)
	if !cw.control(func(fd uintptr) { ti, tiErr = tcpInfo(int(fd)) }) || tiErr != nil {
		return false // closed: net/http or the epoll events report it
	}
	return cw.judge(ti.Unacked > 0 || ti.Probes > 0, time.Duration(ti.Last_ack_recv)*time.Millisecond, now)
}

// judge is silent's verdict on one reading: whether data or probes were
// outstanding, and how long ago the last acknowledgement arrived.
func (cw *connWatch) judge(outstanding bool, sinceAck time.Duration, now time.Time) bool {
	if !outstanding {
		cw.pending = time.Time{}
		cw.quietSince.Store(0)
		return false
	}
	lastAck := now.Add(-sinceAck)
	if cw.pending.IsZero() {
		// Possibly a window probe a live peer is about to answer: not
		// yet evidence for classify.
		cw.pending = now
		cw.quietSince.Store(0)
	} else {
		cw.quietSince.Store(lastAck.UnixNano())
	}
	return sinceAck >= cw.timeout && now.Sub(cw.pending) >= cw.timeout
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
	// Deliveries still undecided will not be: release their descriptors.
	d.mu.Lock()
	left := make([]*connWatch, 0, len(d.byToken))
	for _, cw := range d.byToken {
		left = append(left, cw)
	}
	d.mu.Unlock()
	for _, cw := range left {
		cw.abandon(DeliveryUnknown)
	}
	syscall.Close(d.epfd)
	syscall.Close(d.wake[0])
	syscall.Close(d.wake[1])
}

// tcpInfo reads the socket's TCP_INFO (the fields up to Total_retrans, which
// every Linux since 2.6 fills).
func tcpInfo(fd int) (syscall.TCPInfo, error) {
	var ti syscall.TCPInfo
	n := uint32(unsafe.Sizeof(ti))
	_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), syscall.IPPROTO_TCP, syscall.TCP_INFO,
		uintptr(unsafe.Pointer(&ti)), uintptr(unsafe.Pointer(&n)), 0)
	if errno != 0 {
		return ti, errno
	}
	return ti, nil
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
	ti, err := tcpInfo(fd)
	if err != nil {
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

// classify is classifyFD for a watched connection. When the socket is
// already gone, net/http closed it: after an HTTP/2 PING went unanswered, or
// on its own error. If the detector's last check found the peer had
// acknowledged nothing for at least half its dead-peer timeout with data or
// probes outstanding, the peer went silent; otherwise CauseClosed.
func (cw *connWatch) classify() Cause {
	c := CauseClosed
	if err := cw.rc.Control(func(fd uintptr) { c = classifyFD(int(fd)) }); err != nil {
		if q := cw.quietSince.Load(); q != 0 && cw.timeout > 0 && time.Since(time.Unix(0, q)) >= cw.timeout/2 {
			return CauseSilentPeer
		}
	}
	return c
}

// cut shuts the client's socket down in both directions. The connection
// side uses it on an HTTP/1 connection whose response must be cut while a
// write is stuck on a client that does not read: a write deadline wakes the
// write, but net/http then closes the connection, and over TLS the close
// sends a close_notify alert that crypto/tls lets block for another five
// seconds. A shut-down socket fails both at once.
func (cw *connWatch) cut() {
	_ = cw.rc.Control(func(fd uintptr) { _ = syscall.Shutdown(int(fd), syscall.SHUT_RDWR) })
}
