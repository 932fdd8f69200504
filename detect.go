package lifeline

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
)

// ConfigureServer installs the hooks that let the pool see a client leave at
// socket level while a handler runs, writing or not: an HTTP/1 request whose
// body the handler has not read, a connection with a pipelined request
// waiting, and a peer that went silent (with the keep-alive settings of
// package server) are all noticed, which net/http alone misses. It chains
// srv's existing ConnContext and ConnState hooks. On Linux it watches each
// connection in one shared epoll goroutine, owned by the pool and stopped by
// [Pool.Shutdown]; elsewhere it does nothing and the request context remains
// the only signal. Call it before srv starts serving.
func (p *Pool) ConfigureServer(srv *http.Server) {
	prevCC := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prevCC != nil {
			ctx = prevCC(ctx, c)
		}
		if cw := p.det.watch(c, p.cfg.logger); cw != nil {
			ctx = context.WithValue(ctx, connKey{}, cw)
		}
		return ctx
	}
	prevCS := srv.ConnState
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateClosed || st == http.StateHijacked {
			p.det.unwatch(c)
		}
		if prevCS != nil {
			prevCS(c, st)
		}
	}
}

type connKey struct{}

// connWatch is the detector's view of one connection and the runs on it (one
// for HTTP/1, any number for HTTP/2).
type connWatch struct {
	token uint64
	rc    syscall.RawConn

	mu    sync.Mutex // guards runs and fired
	runs  []*Run
	fired Cause
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
