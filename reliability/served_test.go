package reliability

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/syncbuf"
	"github.com/lifeline-go/lifeline/internal/wait"
	"github.com/lifeline-go/lifeline/server"
)

// served is a pool served by package server on a free loopback port, for
// the scenarios that need the server's real connection handling (dead-peer
// detection, h2c) around a handler of their own.
type served struct {
	pool *lifeline.Pool
	addr string
	logs *syncbuf.Buffer // the pool's and the server's warnings and errors
	stop func() error
}

// servedOptions tune servePool.
type servedOptions struct {
	pool    []lifeline.Option
	server  []server.Option
	sndBuf  int // SO_SNDBUF of every accepted connection, 0: the kernel's
	handler func(pool *lifeline.Pool) http.Handler
}

// servePool starts o.handler(pool) with server.New on 127.0.0.1:0. stop drains
// it and returns Serve's result; the test's cleanup stops it too.
func servePool(t testing.TB, o servedOptions) *served {
	t.Helper()
	s := &served{logs: &syncbuf.Buffer{}}
	log := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pool, err := lifeline.NewPool(append([]lifeline.Option{lifeline.WithLogger(log)}, o.pool...)...)
	if err != nil {
		t.Fatal(err)
	}
	s.pool = pool
	sopts := append([]server.Option{server.WithAddr("127.0.0.1:0"), server.WithLogger(log), server.WithDrainTimeout(10 * time.Second)}, o.server...)
	srv, err := server.New(pool, o.handler(pool), sopts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := srv.Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	if o.sndBuf > 0 {
		ln = sndBufListener{ln, o.sndBuf}
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	var stopped bool
	var result error
	s.stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			result = <-done
		}
		return result
	}
	t.Cleanup(func() { _ = s.stop() })
	return s
}

// sndBufListener sets SO_SNDBUF on every connection it accepts, so that a
// client that reads slowly fills the server's socket and blocks its writes,
// as a slow network would, instead of loopback's megabytes of buffer
// absorbing the whole answer.
type sndBufListener struct {
	net.Listener
	size int
}

func (l sndBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(l.size)
	}
	return c, err
}

// waitFor polls cond until it holds or d passed, and reports whether it
// held.
func waitFor(d time.Duration, cond func() bool) bool { return wait.Until(d, cond) }
