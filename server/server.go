package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/lifeline-go/lifeline"
)

// Server is an [http.Server] set up for Lifeline: timeouts and limits,
// dead-peer detection on every connection, HTTP/2 over TLS and h2c, and a
// graceful drain of the pool's runs when its context is done. Create it with
// [New]; serve with [Server.Serve] once. Its methods may be called from any
// goroutine.
type Server struct {
	pool *lifeline.Pool
	opts options
	log  *slog.Logger
	dp   deadPeer
	srv  *http.Server
	tls  *tls.Config // nil for plain TCP

	served atomic.Bool

	mu      sync.Mutex                // guards own, serving and adminLn
	own     map[net.Listener]struct{} // listeners made by Listen, already tuned
	serving *onceCloseListener        // the listener Serve accepts on
	adminLn net.Listener              // made by ListenAdmin, served by Serve
}

// onceCloseListener lets drain close the listener before it says so, and
// http.Server.Shutdown close it again without an error.
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

// Close closes the listener the first time and returns that result after.
func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}

// ListenAndServe serves h until ctx is done, then drains: it is [New]
// followed by [Server.Listen] and [Server.Serve]. ctx is typically from
// [os/signal.NotifyContext] for SIGINT and SIGTERM. It returns nil after a
// clean drain, an error matching [ErrDrainIncomplete] when the drain deadline
// cut runs or connections short, and any error from New or Listen at once.
func ListenAndServe(ctx context.Context, pool *lifeline.Pool, h http.Handler, opts ...Option) error {
	s, err := New(pool, h, opts...)
	if err != nil {
		return err
	}
	ln, err := s.Listen(ctx)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// New returns a Server that serves h, whose runs belong to pool. h is served
// as given: wrap the routes that should become runs with [lifeline.Pool.Middleware]
// (a status page, for instance, need not be one). New validates the options
// once (a nil option is an error wrapping [ErrInvalidOption]), loads the TLS certificate if [WithTLS] asks for one, and calls
// [lifeline.Pool.ConfigureServerWith] with the dead-peer timeout, so that the
// pool watches every connection's socket for FIN, RST and silent peers.
func New(pool *lifeline.Pool, h http.Handler, opts ...Option) (*Server, error) {
	if pool == nil {
		return nil, fmt.Errorf("%w: nil pool", ErrInvalidOption)
	}
	if h == nil {
		return nil, fmt.Errorf("%w: nil handler", ErrInvalidOption)
	}
	o := defaultOptions()
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: option %d is nil", ErrInvalidOption, i+1)
		}
		opt.apply(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	s := &Server{pool: pool, opts: o, log: o.logger, dp: newDeadPeer(o.deadPeerTimeout)}
	if s.log == nil {
		s.log = slog.Default()
	}
	tlsConfig, err := o.tlsSetup()
	if err != nil {
		return nil, err
	}
	s.tls = tlsConfig
	s.srv = s.httpServer(limitBody(h, o.maxBodyBytes))
	pool.ConfigureServerWith(s.srv, lifeline.ServerConfig{DeadPeerTimeout: o.deadPeerTimeout})
	return s, nil
}

// tlsSetup returns the TLS configuration to serve with, nil for plain TCP.
func (o *options) tlsSetup() (*tls.Config, error) {
	switch {
	case o.tlsConfig != nil:
		cfg := o.tlsConfig.Clone()
		if len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
			return nil, fmt.Errorf("%w: WithTLSConfig: no Certificates, GetCertificate or GetConfigForClient", ErrInvalidOption)
		}
		return cfg, nil
	case o.certFile != "":
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: WithTLS: %w", ErrInvalidOption, err)
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}}, nil
	}
	return nil, nil
}

// httpServer builds the http.Server. WriteTimeout and ReadTimeout stay 0: a
// run may write for as long as its time limit allows (PHP scripts stream for
// minutes), and uploads may be slow; a client that vanished is found by the
// dead-peer schedule instead, whether the server writes or not.
func (s *Server) httpServer(h http.Handler) *http.Server {
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(true) // over TLS only
	protos.SetUnencryptedHTTP2(s.opts.h2c)
	pingD := s.opts.deadPeerTimeout
	if s.opts.h2PingSet {
		pingD = s.opts.h2PingTimeout
	}
	send, answer := h2Ping(pingD)
	return &http.Server{
		Addr:              s.opts.addr,
		Handler:           h,
		TLSConfig:         s.tls,
		ReadHeaderTimeout: s.opts.readHeaderTimeout,
		IdleTimeout:       s.opts.keepAliveTimeout,
		MaxHeaderBytes:    s.opts.maxHeaderBytes,
		Protocols:         &protos,
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: send,
			PingTimeout:     answer,
		},
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelInfo),
	}
}

// Listen listens on the address of [WithAddr] (TCP), with keep-alive set for
// the dead-peer timeout. ctx bounds the call only.
func (s *Server) Listen(ctx context.Context) (net.Listener, error) {
	ln, err := s.dp.listenConfig().Listen(ctx, "tcp", s.opts.addr)
	if err != nil {
		return nil, fmt.Errorf("server: listen: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.own == nil {
		s.own = make(map[net.Listener]struct{})
	}
	s.own[ln] = struct{}{}
	return ln, nil
}

// Serve accepts connections on ln and serves them until ctx is done (or ln
// fails), then drains: it stops accepting, lets open responses complete,
// waits for every run of the pool, including runs still working after
// Finish, and closes what is left when the drain deadline
// ([WithDrainTimeout]) passes, cancelling the runs still working with
// [lifeline.ErrServerShutdown] and logging each by name.
//
// ln may come from [Server.Listen] or elsewhere (a test's listener, socket
// activation): connections from other listeners get their dead-peer settings
// when accepted. With [WithTLS] or [WithTLSConfig], Serve speaks TLS on ln.
// Serve closes ln.
//
// With [WithAdmin], Serve also serves the admin listener (its own, or the
// one [Server.ListenAdmin] made) from the start until the drain is over,
// and closes it before it returns.
//
// Serve returns nil after a clean drain, an error matching
// [ErrDrainIncomplete] when the deadline cut anything short, the listener's
// error (joined with the drain's) when ln failed, and [ErrServed] when called
// a second time.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if !s.served.CompareAndSwap(false, true) {
		return ErrServed
	}
	stopAdmin, err := s.startAdmin(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopAdmin() // after the drain: operators watch it there
	s.mu.Lock()
	_, own := s.own[ln]
	s.mu.Unlock()
	if !own {
		ln = &tuningListener{Listener: ln, dp: s.dp, log: s.log}
	}
	once := &onceCloseListener{Listener: ln}
	ln = once
	s.mu.Lock()
	s.serving = once
	s.mu.Unlock()
	s.log.Info("server: serving", "addr", ln.Addr().String(), "tls", s.tls != nil, "h2c", s.opts.h2c,
		"dead_peer_timeout", s.opts.deadPeerTimeout)
	served := make(chan error, 1)
	go func() {
		if s.tls != nil {
			served <- s.srv.ServeTLS(ln, "", "")
			return
		}
		served <- s.srv.Serve(ln)
	}()
	select {
	case err := <-served:
		// The listener failed before any shutdown: drain what runs anyway.
		s.log.Error("server: listener failed", "err", err)
		return errors.Join(fmt.Errorf("server: serve: %w", err), s.drain())
	case <-ctx.Done():
	}
	err = s.drain()
	<-served // returns http.ErrServerClosed as soon as Shutdown begins
	return err
}
