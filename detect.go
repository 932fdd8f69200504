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
	var h2once sync.Once
	srv.ConnContext = func(ctx context.Context, conn net.Conn) context.Context {
		if prevCC != nil {
			ctx = prevCC(ctx, conn)
		}
		// net/http has set up its HTTP/2 server by the first connection,
		// and reads TLSNextProto for a connection only after this returns.
		h2once.Do(func() { followHTTP2(srv) })
		if cw := p.det.watch(conn, p.cfg.logger, timeout); cw != nil {
			ctx = &connContext{Context: ctx, cw: cw}
		}
		return ctx
	}
	prevCS := srv.ConnState
	srv.ConnState = func(conn net.Conn, st http.ConnState) {
		if hc, ok := conn.(h2wrapped); ok {
			conn = hc.wrapped() // hooks see the connection net/http gave HTTP/2
		}
		if st != http.StateNew && p.flushWaits.Load() > 0 {
			if cw := p.det.lookup(conn); cw != nil && cw.connState(st) {
				p.flushWaits.Add(-1)
			}
		}
		if st == http.StateClosed || st == http.StateHijacked {
			p.det.unwatch(conn, st == http.StateHijacked)
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
	// before the first: what a delivery is judged by once no descriptor
	// of the socket is left.
	acked atomic.Int64

	// h2 follows the connection's HTTP/2 frames, if net/http serves
	// HTTP/2 on it (see h2conn); h2dl counts the HTTP/2 deliveries in dl,
	// and h2waits those of them that wait for their stream's end, so that
	// the frame follower takes no lock while there are none.
	h2      atomic.Pointer[h2conn]
	h2dl    atomic.Int32
	h2waits atomic.Int32

	fdMu     sync.Mutex // guards dup and closedAt
	dup      int        // a duplicate of the socket's descriptor, held while dl is not empty; -1 without
	closedAt time.Time  // when net/http closed the connection while dup was held

	mu    sync.Mutex // guards runs, fired and dl
	runs  []*Run
	fired Cause
	dl    []*delivery // the connection's undecided deliveries (see track)
}

// firedCause returns the cause the connection failed with, if it did.
func (cw *connWatch) firedCause() Cause {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	return cw.fired
}

// checkedLocked puts the connection among those the detector checks for
// silence while runs are attached to it or deliveries on it are undecided,
// and takes it off otherwise; cw.mu must be held.
func (cw *connWatch) checkedLocked() {
	if (len(cw.runs) > 0 || len(cw.dl) > 0) && cw.fired != CauseSilentPeer {
		cw.det.activate(cw)
	} else {
		cw.det.deactivate(cw)
	}
}

// track adds d, armed on this connection, to its undecided deliveries. The
// first one takes a duplicate of the socket's descriptor, so that the
// kernel's view of the connection (its acknowledged byte count) survives
// net/http closing it, until the last one is decided.
func (cw *connWatch) track(d *delivery) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if len(cw.dl) == 0 {
		cw.holdFD()
	}
	cw.dl = append(cw.dl, d)
	if d.stream != 0 {
		cw.h2dl.Add(1)
		cw.h2waits.Add(1)
	}
	cw.checkedLocked()
}

// untrackLocked removes d, decided; cw.mu must be held. The last one
// releases the duplicate descriptor; if net/http had closed the connection,
// that closes the socket, and the detector forgets the connection.
func (cw *connWatch) untrackLocked(d *delivery) {
	for i, u := range cw.dl {
		if u == d {
			if d.stream != 0 {
				cw.h2dl.Add(-1)
			}
			last := len(cw.dl) - 1
			cw.dl[i] = cw.dl[last]
			cw.dl[last] = nil
			cw.dl = cw.dl[:last]
			if len(cw.dl) == 0 {
				if cw.releaseFD() {
					cw.det.forget(cw)
					return
				}
			}
			break
		}
	}
	cw.checkedLocked()
}

// untrack is untrackLocked for callers without cw.mu.
func (cw *connWatch) untrack(d *delivery) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	cw.untrackLocked(d)
}

// check decides d, which has a target, from the socket if it can, and
// returns its state.
func (cw *connWatch) check(d *delivery) Delivery {
	acked, sock := cw.ackedBytes()
	st := DeliveryPending
	switch sock {
	case sockReset:
		st = Undelivered // what was not acknowledged by now never will be
	case sockGone:
		st = DeliveryUnknown // no descriptor left to ask
	default:
		if c := cw.firedCause(); c == CauseReset || c == CauseSilentPeer {
			st = Undelivered
		}
	}
	if st = d.judge(acked, st); st != DeliveryPending {
		cw.untrack(d)
	}
	return st
}

// judgeAllLocked decides every delivery with a target from acked, with st
// for those it does not cover (DeliveryPending: no decision); cw.mu must be
// held.
func (cw *connWatch) judgeAllLocked(acked int64, st Delivery) {
	for i := 0; i < len(cw.dl); {
		d := cw.dl[i]
		if d.judge(acked, st) != DeliveryPending {
			cw.untrackLocked(d) // moves the last one to i
			continue
		}
		i++
	}
}

// decideAllLocked decides every delivery that has no target yet and
// satisfies match with st; cw.mu must be held.
func (cw *connWatch) decideAllLocked(st Delivery, match func(*delivery) bool) {
	for i := 0; i < len(cw.dl); {
		d := cw.dl[i]
		d.mu.Lock()
		waiting := d.target < 0 && match(d)
		d.mu.Unlock()
		if waiting && d.decide(st) {
			if d.stream != 0 {
				cw.h2waits.Add(-1)
			}
			cw.untrackLocked(d)
			continue
		}
		i++
	}
}

// settle decides the deliveries the acknowledged count now covers. The
// detector's goroutine calls it at each check, so that a delivery nobody
// asks about is decided (and its descriptor released) all the same.
func (cw *connWatch) settle() {
	cw.mu.Lock()
	n := len(cw.dl)
	cw.mu.Unlock()
	if n == 0 {
		return
	}
	acked, sock := cw.ackedBytes()
	st := DeliveryPending
	switch sock {
	case sockGone:
		return // decided at net/http's close
	case sockReset:
		st = Undelivered
	}
	cw.mu.Lock()
	defer cw.mu.Unlock()
	cw.judgeAllLocked(acked, st)
}

// abandon decides every delivery left on the connection as st, unless the
// last acknowledged count covers it, and releases the duplicate descriptor.
func (cw *connWatch) abandon(st Delivery) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	cw.decideAllLocked(st, func(*delivery) bool { return true })
	cw.judgeAllLocked(cw.acked.Load(), st)
}

// connState takes the position for the HTTP/1 response waiting for its
// flush, when net/http's connection changes state. It reports whether there
// was one.
func (cw *connWatch) connState(st http.ConnState) bool {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	var d *delivery
	for _, u := range cw.dl {
		u.mu.Lock()
		if u.stream == 0 && u.target < 0 {
			d = u
		}
		u.mu.Unlock()
	}
	if d == nil {
		return false
	}
	var (
		pos int64
		ok  bool
	)
	switch st {
	case http.StateIdle, http.StateActive, http.StateClosed:
		// Active: a pipelined request was read right after; the previous
		// response was flushed before it. Closed: net/http wrote the
		// response and closed the connection (Connection: close); the
		// duplicate descriptor, if held, still sees the socket.
		pos, ok = cw.position()
	}
	if !d.setTarget(pos, ok) || !ok {
		cw.untrackLocked(d) // decided meanwhile, or unknown
	}
	return true
}

// h2Ended gives the HTTP/2 deliveries waiting for the end of stream their
// target: the connection's position now, just after the frame that ends
// the stream was written to the socket. pos is taken once per write by the
// caller and shared (see h2conn.Write).
func (cw *connWatch) h2Ended(stream uint32, pos *int64, ok *bool, asked *bool) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	for _, d := range cw.dl {
		d.mu.Lock()
		match := d.stream == stream && d.target < 0
		d.mu.Unlock()
		if !match {
			continue
		}
		if !*asked {
			*pos, *ok = cw.position()
			*asked = true
		}
		cw.h2waits.Add(-1)
		if !d.setTarget(*pos, *ok) || !*ok {
			cw.untrackLocked(d)
		}
		return
	}
}

// h2Cut decides the HTTP/2 delivery of stream undelivered when the stream
// was reset before its end was written: by the server, when the response
// was cut, or by the client. A client's reset read after the end was
// written decides it too, unless the acknowledged count already covers the
// end: the client gave up before its TCP stack had the whole answer. (The
// server's own RST_STREAM after END_STREAM, sent when the request body was
// not read, says nothing.)
func (cw *connWatch) h2Cut(stream uint32, byClient bool) {
	cw.mu.Lock()
	cw.decideAllLocked(Undelivered, func(d *delivery) bool { return d.stream == stream })
	var d *delivery
	if byClient {
		for _, u := range cw.dl {
			if u.stream == stream {
				d = u
			}
		}
	}
	cw.mu.Unlock()
	if d == nil {
		return
	}
	acked, _ := cw.ackedBytes() // the count the reset's own segment carried, or later
	if d.judge(acked, Undelivered) != DeliveryPending {
		cw.untrack(d)
	}
}

// closed is called when net/http has closed the connection (or handed it
// over, hijacked). A delivery still waiting for its HTTP/2 stream's end
// never got it written: undelivered. Deliveries with a target go on being
// judged through the duplicate descriptor, if one is held: it reports
// whether the watch must be kept for them.
func (cw *connWatch) closed(hijacked bool) (keep bool) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if len(cw.dl) == 0 {
		return false
	}
	if hijacked {
		cw.decideAllLocked(DeliveryUnknown, func(*delivery) bool { return true })
		cw.judgeAllLocked(-1, DeliveryUnknown)
		return false
	}
	cw.decideAllLocked(Undelivered, func(d *delivery) bool { return d.stream != 0 })
	if len(cw.dl) == 0 {
		return false
	}
	if !cw.keepClosed() {
		acked := cw.acked.Load()
		cw.judgeAllLocked(acked, DeliveryUnknown)
		return false
	}
	return true
}

// connContext is the context of a connection the detector watches: it
// holds the watch under connKey, and answers runKey with it too, so that
// one lookup from a request's context finds the run it belongs to (a run's
// context is above the connection's) or, when there is none, the watch
// (route.ServeHTTP), without going on to the root. FromContext's type
// assertion tells the two apart.
type connContext struct {
	context.Context
	cw *connWatch
}

// Value implements [context.Context].
func (c *connContext) Value(key any) any {
	switch key.(type) {
	case connKey, runKey:
		return c.cw
	}
	return c.Context.Value(key)
}

func connWatchFrom(ctx context.Context) *connWatch {
	cw, _ := ctx.Value(connKey{}).(*connWatch)
	return cw
}

// attach adds rn to the runs told when the connection goes.
func (cw *connWatch) attach(rn *Run) {
	cw.mu.Lock()
	cw.runs = append(cw.runs, rn)
	fired := cw.fired
	if fired == CauseNone {
		cw.checkedLocked()
	}
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
			cw.checkedLocked()
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
	// peer ends what it has not acknowledged yet. A response without its
	// target yet is decided when it gets one (the flush, or the end of its
	// HTTP/2 stream) or when net/http closes the connection.
	if c == CauseReset || c == CauseSilentPeer {
		cw.judgeAllLocked(cw.acked.Load(), Undelivered)
	}
	for _, rn := range cw.runs {
		rn.abort(c)
	}
	if c == CauseSilentPeer {
		cw.checkedLocked()
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
