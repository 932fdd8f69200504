package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// DefaultAdminAddr is the address of the admin listener ([WithAdmin]) when
// none is given: loopback, next to [DefaultAddr].
const DefaultAdminAddr = "localhost:8081"

// adminShutdown bounds how long the admin listener's open responses may
// take to complete once the drain is over.
const adminShutdown = time.Second

// WithAdmin serves h, typically the status page and the metrics of package
// status, on a listener of its own at addr ("" means [DefaultAdminAddr],
// loopback), so that operators can watch a drain: the admin listener keeps
// serving while the main listener is closed and the pool's runs drain, and
// closes only when [Server.Serve] returns. Its requests are not runs and
// carry no dead-peer schedule; the timeouts and limits of the main listener
// apply. A non-loopback addr is served with a warning in the log: protect
// what h shows (status.Access does). Default: no admin listener.
func WithAdmin(addr string, h http.Handler) Option {
	return optionFunc(func(o *options) {
		if addr == "" {
			addr = DefaultAdminAddr
		}
		o.adminAddr, o.admin, o.adminSet = addr, h, true
	})
}

// ListenAdmin listens on the admin address of [WithAdmin] (TCP), for
// [Server.Serve] to serve; Serve listens by itself when ListenAdmin was not
// called. Call it before Serve to learn the address (addr with port 0 picks
// a free one) or to fail early. It returns an error wrapping
// [ErrInvalidOption] without WithAdmin, and the listener's error otherwise.
// ctx bounds the call only.
func (s *Server) ListenAdmin(ctx context.Context) (net.Listener, error) {
	if s.opts.admin == nil {
		return nil, fmt.Errorf("%w: ListenAdmin without WithAdmin", ErrInvalidOption)
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", s.opts.adminAddr)
	if err != nil {
		return nil, fmt.Errorf("server: listen admin: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.adminLn != nil {
		ln.Close()
		return nil, fmt.Errorf("server: ListenAdmin called twice")
	}
	s.adminLn = ln
	return ln, nil
}

// startAdmin starts serving the admin listener, if there is one, and
// returns the function that stops it.
func (s *Server) startAdmin(ctx context.Context) (stop func(), err error) {
	if s.opts.admin == nil {
		return func() {}, nil
	}
	s.mu.Lock()
	ln := s.adminLn
	s.mu.Unlock()
	if ln == nil {
		if ln, err = s.ListenAdmin(context.WithoutCancel(ctx)); err != nil {
			return nil, err
		}
	}
	if !isLoopback(ln.Addr()) {
		s.log.Warn("server: the admin listener is not on loopback: protect what it shows", "addr", ln.Addr().String())
	}
	srv := &http.Server{
		Handler:           s.opts.admin,
		ReadHeaderTimeout: s.opts.readHeaderTimeout,
		IdleTimeout:       s.opts.keepAliveTimeout,
		MaxHeaderBytes:    s.opts.maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelInfo),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	s.log.Info("server: admin serving", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), adminShutdown)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("server: admin listener failed", "err", err)
		}
	}, nil
}

// isLoopback reports whether a is a loopback TCP address.
func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
