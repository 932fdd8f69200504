package lifelinetest

import (
	"context"
	"fmt"
	"net"
	"sync"
)

// pipeListener is an in-memory [net.Listener]: each dial makes a
// [net.Pipe], whose server end Accept returns. Made inside a
// testing/synctest bubble, its channels belong to the bubble, so a server
// waiting in Accept and clients and handlers waiting on pipes are durably
// blocked, and the bubble's virtual time can advance.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// Accept waits for the next dial, or for Close.
func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops Accept and later dials. It may be called more than once.
func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr returns the listener's placeholder address.
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// dial connects to the listener, with the signature of
// [net.Dialer.DialContext]; network and addr are ignored.
func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	srv, cli := net.Pipe()
	select {
	case l.conns <- srv:
		return cli, nil
	case <-l.closed:
	case <-ctx.Done():
	}
	srv.Close()
	cli.Close()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lifelinetest: dial in-memory server: %w", err)
	}
	return nil, fmt.Errorf("lifelinetest: dial in-memory server: %w", net.ErrClosed)
}

// pipeAddr is the address of the in-memory network: the URL host of a
// server on it.
type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "lifelinetest.pipe" }
