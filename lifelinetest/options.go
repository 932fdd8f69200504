package lifelinetest

import (
	"fmt"

	"github.com/lifeline-go/lifeline/server"
)

// Option configures a [Server] ([Pool.NewServer]).
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// options holds every setting of a Server; defaults are in defaultOptions.
type options struct {
	h2c        bool
	inMemory   bool
	silent     bool
	serverOpts []server.Option
}

func defaultOptions() options { return options{} }

func (o *options) validate() error {
	if o.inMemory && o.silent {
		return fmt.Errorf("%w: WithInMemoryNetwork and WithSilentClients: an in-memory network has no packets to drop", ErrInvalidOption)
	}
	return nil
}

// WithHTTP2 makes the server and its clients speak HTTP/2 without TLS
// (h2c, prior knowledge). The default is HTTP/1.1.
func WithHTTP2() Option {
	return optionFunc(func(o *options) { o.h2c = true })
}

// WithInMemoryNetwork serves over an in-memory network ([net.Pipe]
// connections) instead of loopback TCP, so that a test can run the real
// net/http server and client inside a testing/synctest bubble, where time
// limits, grace periods and sleeps take no real time (goroutines blocked on
// real sockets are not durably blocked, so a bubble cannot use loopback).
// There is no socket for the pool to watch: a client that leaves is seen
// through net/http's own read of the connection, and [Reset] closes like
// [Close]. The default is loopback TCP.
func WithInMemoryNetwork() Option {
	return optionFunc(func(o *options) { o.inMemory = true })
}

// WithSilentClients lets [Server.Leave] use [Silent]: the server listens on
// one end of a veth link to a throw-away network namespace, from which the
// silent client connects, and its packets are then dropped both ways, as
// when a laptop lid closes. It needs Linux, root, iproute2 and iptables;
// without them the test is skipped (or failed under `make test`). The
// server's dead-peer timeout (4 s by default, package server) decides how
// soon the run sees it; set it with
// WithServerOptions(server.WithDeadPeerTimeout(d)). Other clients connect
// from the host as usual. The default is no namespace.
func WithSilentClients() Option {
	return optionFunc(func(o *options) { o.silent = true })
}

// WithServerOptions passes opts to [server.New], after the kit's own
// (a loopback address, the pool's logger). The default is none.
func WithServerOptions(opts ...server.Option) Option {
	return optionFunc(func(o *options) { o.serverOpts = append(o.serverOpts, opts...) })
}
