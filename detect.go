package lifeline

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ConfigureServer installs the hooks that let the pool see a client leave at
// socket level while a handler runs, writing or not: an HTTP/1 request whose
// body the handler has not read, a connection with a pipelined request
// waiting, and a peer whose socket failed (keep-alive set by package server,
// for instance) are all noticed, which net/http alone misses. It chains
// srv's existing ConnContext and ConnState hooks. On Linux it watches each
// connection in one shared epoll goroutine, owned by the pool and stopped by
// [Pool.Shutdown]; elsewhere it does nothing and the request context remains
// the only signal. Call it before srv starts serving.
//
// ConfigureServer is [Pool.ConfigureServerWith] with a zero [ServerConfig]:
// it does not decide by itself that a peer went silent.
func (p *Pool) ConfigureServer(srv *http.Server) {
	p.ConfigureServerWith(srv, ServerConfig{})
}

// ServerConfig is what [Pool.ConfigureServerWith] needs to know about the
// server's connections. The zero value is [Pool.ConfigureServer]'s.
type ServerConfig struct {
	// DeadPeerTimeout is how long a client may acknowledge nothing while
	// data or probes to it are outstanding before its runs are aborted with
	// [CauseSilentPeer] ([ErrSilentPeer]) and its connection is closed. On
	// Linux the pool reads each connection's TCP_INFO, the kernel's own
	// view, every DeadPeerTimeout/8 while runs are attached to it (never
	// for idle connections), so a silent peer is noticed within about
	// DeadPeerTimeout plus one such interval after its last acknowledgement
	// or after the first probe it left unanswered, whether the server
	// writes or not, over HTTP/1 and HTTP/2. A client that acknowledges but
	// reads slowly or not at all (a zero receive window whose probes it
	// answers) is alive and never taken for a silent one: bounding it is
	// [WithStallTimeout]'s job. Keep it at a second or more (package
	// server's minimum is 2 s): a live peer can leave one of the first,
	// closely spaced window probes unanswered for up to about a second,
	// since it answers such probes at most every 500 ms. Outside Linux it
	// does nothing. 0 or less turns the check off; package server passes its
	// server.WithDeadPeerTimeout (4 s by default).
	DeadPeerTimeout time.Duration
}

// ConfigureServerWith is [Pool.ConfigureServer] with the dead-peer check of
// c: see [ServerConfig]. Call it once per server, before srv starts serving;
// a pool that serves several servers checks each connection with the
// timeout of its own server.
func (p *Pool) ConfigureServerWith(srv *http.Server, c ServerConfig) {
	timeout := max(c.DeadPeerTimeout, 0)
	p.det.configure(timeout)
	prevCC := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, conn net.Conn) context.Context {
		if prevCC != nil {
			ctx = prevCC(ctx, conn)
		}
		if cw := p.det.watch(conn, p.cfg.logger, timeout); cw != nil {
			ctx = context.WithValue(ctx, connKey{}, cw)
		}
		return ctx
	}
	prevCS := srv.ConnState
	srv.ConnState = func(conn net.Conn, st http.ConnState) {
		if st != http.StateNew && p.flushWaits.Load() > 0 {
			if cw := p.det.lookup(conn); cw != nil && cw.connState(st) {
				p.flushWaits.Add(-1)
			}
		}
		if st == http.StateClosed || st == http.StateHijacked {
			p.det.unwatch(conn)
		}
		if prevCS != nil {
			prevCS(conn, st)
		}
	}
}

type connKey struct{}

// connWatch is the detector's view of one connection and the runs on it (one
// for HTTP/1, any number for HTTP/2).
type connWatch struct {
	token   uint64
	conn    net.Conn
	rc      syscall.RawConn
	det     *detector
	timeout time.Duration // dead-peer timeout; 0: no TCP_INFO check

	// quietSince is when the peer last acknowledged anything, as of the
	// detector's last check, if data or probes were outstanding then and at
	// the check before (Unix nanoseconds; 0 otherwise). classify reads it
	// when net/http closed the socket first (an HTTP/2 PING timeout).
	quietSince atomic.Int64

	// pending is when the detector's checks first saw data or probes
	// outstanding without a break; zero when the last check saw none. Owned
	// by the detector's goroutine.
	pending time.Time

	// acked is the peer's acknowledged byte count at the last look, -1
	// before the first (see delivery).
	acked atomic.Int64

	mu         sync.Mutex // guards runs, fired and delivering
	runs       []*Run
	fired      Cause
	delivering *delivery   // an early-finished HTTP/1 response waiting for net/http's flush
	pins       int         // undecided deliveries (see pinLocked)
	undecided  []*delivery // deliveries with a target, not yet decided
}

// firedCause returns the cause the connection failed with, if it did.
func (cw *connWatch) firedCause() Cause {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	return cw.fired
}

// awaitFlush hands d the connection's position once net/http has written
// the response (the connection goes idle), or gives up when it closes.
func (cw *connWatch) awaitFlush(d *delivery) {
	cw.mu.Lock()
	cw.delivering = d
	cw.pinLocked()
	cw.mu.Unlock()
}

// pinLocked keeps the connection among those the detector checks for
// silence while a delivery is undecided, though no run is attached any
// more; cw.mu must be held.
func (cw *connWatch) pinLocked() {
	cw.pins++
	if cw.pins == 1 && len(cw.runs) == 0 && cw.fired == CauseNone {
		cw.det.activate(cw)
	}
}

// unpin releases the pin of d, decided or given up.
func (cw *connWatch) unpin(d *delivery) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	for i, u := range cw.undecided {
		if u == d {
			cw.undecided = append(cw.undecided[:i], cw.undecided[i+1:]...)
			break
		}
	}
	if cw.pins == 0 {
		return
	}
	cw.pins--
	if cw.pins == 0 && len(cw.runs) == 0 {
		cw.det.deactivate(cw)
	}
}

// connState takes the position for the response waiting for its flush. It
// reports whether there was one.
func (cw *connWatch) connState(st http.ConnState) bool {
	cw.mu.Lock()
	d := cw.delivering
	cw.delivering = nil
	cw.mu.Unlock()
	if d == nil {
		return false
	}
	if st == http.StateIdle || st == http.StateActive {
		// Active: a pipelined request was read right after; the previous
		// response was flushed before it.
		pos, ok := cw.position()
		if ok {
			cw.mu.Lock()
			cw.undecided = append(cw.undecided, d)
			cw.mu.Unlock()
		}
		d.flushed(pos, ok)
		return true
	}
	d.flushed(0, false) // closed or hijacked: no socket to ask any more
	return true
}

func connWatchFrom(ctx context.Context) *connWatch {
	cw, _ := ctx.Value(connKey{}).(*connWatch)
	return cw
}

// attach adds rn to the runs told when the connection goes.
func (cw *connWatch) attach(rn *Run) {
	cw.mu.Lock()
	cw.runs = append(cw.runs, rn)
	if len(cw.runs) == 1 && cw.fired == CauseNone {
		cw.det.activate(cw)
	}
	fired := cw.fired
	cw.mu.Unlock()
	if fired != CauseNone {
		rn.abort(fired)
	}
}

// detach removes rn. After it returns, the detector no longer touches rn.
func (cw *connWatch) detach(rn *Run) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	for i, r := range cw.runs {
		if r == rn {
			last := len(cw.runs) - 1
			cw.runs[i] = cw.runs[last]
			cw.runs[last] = nil
			cw.runs = cw.runs[:last]
			if last == 0 {
				cw.det.deactivate(cw)
			}
			return
		}
	}
}

// fire tells every attached run that the client left.
func (cw *connWatch) fire(c Cause) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if cw.fired == CauseNone {
		cw.fired = c
	}
	// A FIN says nothing about what the peer received: a client that read
	// its answer and closed, or half-closed after its request and reads on,
	// decides its deliveries by its acknowledgements. A reset or a silent
	// peer ends what it has not acknowledged yet. A response not yet
	// flushed (delivering) is decided when the connection's state changes.
	if c == CauseReset || c == CauseSilentPeer {
		acked := cw.acked.Load()
		kept := cw.undecided[:0]
		for _, d := range cw.undecided {
			if !d.failUnlessAcked(acked) {
				kept = append(kept, d)
			}
		}
		cw.undecided = kept
	}
	for _, rn := range cw.runs {
		rn.abort(c)
	}
}

// causeOf classifies a write or flush error on the client connection.
func causeOf(err error) Cause {
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return CauseReset
	case errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, os.ErrDeadlineExceeded):
		return CauseSilentPeer
	}
	return CauseClosed
}

// causeOf is the package's causeOf refined by the connection's watch (cw
// may be nil): a write that failed because net/http had closed the socket
// (after an HTTP/2 PING went unanswered, say) is put down to a silent peer
// when the detector's last check says so; see classify.
func (cw *connWatch) causeOf(err error) Cause {
	c := causeOf(err)
	if c == CauseClosed && cw != nil {
		c = cw.classify()
	}
	return c
}

// rawConn returns the socket under c (under TLS too), if it has one.
func rawConn(c net.Conn) (syscall.RawConn, bool) {
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = nc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, false
	}
	return rc, true
}
