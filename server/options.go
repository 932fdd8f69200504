package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"
)

// Option configures a [Server] ([New], [ListenAndServe]). Options are
// validated once, in New; a nil Option is an error wrapping
// [ErrInvalidOption].
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// options holds every setting; defaults are in defaultOptions.
type options struct {
	addr              string
	certFile, keyFile string
	tlsConfig         *tls.Config
	h2c               bool
	readHeaderTimeout time.Duration
	keepAliveTimeout  time.Duration
	maxHeaderBytes    int
	maxBodyBytes      int64
	deadPeerTimeout   time.Duration
	h2PingTimeout     time.Duration
	h2PingSet         bool // WithHTTP2PingTimeout was given
	drainTimeout      time.Duration
	logger            *slog.Logger
	adminAddr         string                        // WithAdmin
	admin             http.Handler                  // WithAdmin; nil: no admin listener
	adminSet          bool                          // WithAdmin was given, perhaps with a nil handler
	drainFuncs        []func(context.Context) error // WithDrainFunc
}

// The defaults, each explained on the option that changes it.
const (
	// DefaultAddr is the address [WithAddr] changes.
	DefaultAddr = "localhost:8080"
	// DefaultReadHeaderTimeout is the timeout [WithReadHeaderTimeout] changes.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultKeepAliveTimeout is the timeout [WithKeepAliveTimeout] changes.
	DefaultKeepAliveTimeout = 75 * time.Second
	// DefaultMaxHeaderBytes is the limit [WithMaxHeaderBytes] changes.
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultMaxBodyBytes is the limit [WithMaxBodyBytes] changes.
	DefaultMaxBodyBytes = 8 << 20
	// DefaultDeadPeerTimeout is the timeout [WithDeadPeerTimeout] changes.
	DefaultDeadPeerTimeout = 4 * time.Second
	// DefaultDrainTimeout is the timeout [WithDrainTimeout] changes.
	DefaultDrainTimeout = 25 * time.Second

	// MinDeadPeerTimeout is the shortest dead-peer timeout: TCP keep-alive
	// counts whole seconds, and the kernel gives up on a silent peer only
	// after one unanswered probe, so one second of idle time plus one second
	// of probing is the least it can do.
	MinDeadPeerTimeout = 2 * time.Second
)

func defaultOptions() options {
	return options{
		addr:              DefaultAddr,
		readHeaderTimeout: DefaultReadHeaderTimeout,
		keepAliveTimeout:  DefaultKeepAliveTimeout,
		maxHeaderBytes:    DefaultMaxHeaderBytes,
		maxBodyBytes:      DefaultMaxBodyBytes,
		deadPeerTimeout:   DefaultDeadPeerTimeout,
		drainTimeout:      DefaultDrainTimeout,
	}
}

func (o *options) validate() error {
	switch {
	case o.addr == "":
		return fmt.Errorf("%w: WithAddr(\"\"): empty address", ErrInvalidOption)
	case (o.certFile == "") != (o.keyFile == ""):
		return fmt.Errorf("%w: WithTLS(%q, %q): need both a certificate and a key file", ErrInvalidOption, o.certFile, o.keyFile)
	case o.certFile != "" && o.tlsConfig != nil:
		return fmt.Errorf("%w: WithTLS and WithTLSConfig: choose one", ErrInvalidOption)
	case o.readHeaderTimeout < 0:
		return fmt.Errorf("%w: WithReadHeaderTimeout(%v): negative", ErrInvalidOption, o.readHeaderTimeout)
	case o.keepAliveTimeout < 0:
		return fmt.Errorf("%w: WithKeepAliveTimeout(%v): negative", ErrInvalidOption, o.keepAliveTimeout)
	case o.maxHeaderBytes <= 0:
		return fmt.Errorf("%w: WithMaxHeaderBytes(%d): must be positive", ErrInvalidOption, o.maxHeaderBytes)
	case o.maxBodyBytes < 0:
		return fmt.Errorf("%w: WithMaxBodyBytes(%d): negative", ErrInvalidOption, o.maxBodyBytes)
	case o.deadPeerTimeout < 0, o.deadPeerTimeout > 0 && o.deadPeerTimeout < MinDeadPeerTimeout:
		return fmt.Errorf("%w: WithDeadPeerTimeout(%v): want 0 (off) or at least %v", ErrInvalidOption, o.deadPeerTimeout, MinDeadPeerTimeout)
	case o.h2PingTimeout < 0, o.h2PingSet && o.h2PingTimeout > 0 && o.h2PingTimeout < 10*time.Millisecond:
		return fmt.Errorf("%w: WithHTTP2PingTimeout(%v): want 0 (off) or at least 10ms", ErrInvalidOption, o.h2PingTimeout)
	case o.adminSet && o.admin == nil:
		return fmt.Errorf("%w: WithAdmin(%q, nil): nil handler", ErrInvalidOption, o.adminAddr)
	case o.drainTimeout < 0:
		return fmt.Errorf("%w: WithDrainTimeout(%v): negative", ErrInvalidOption, o.drainTimeout)
	case slices.ContainsFunc(o.drainFuncs, func(f func(context.Context) error) bool { return f == nil }):
		return fmt.Errorf("%w: WithDrainFunc(nil)", ErrInvalidOption)
	}
	return nil
}

// WithAddr sets the TCP address [ListenAndServe] and [Server.Listen] listen on. The
// default is "localhost:8080", the reference server's; use ":8080" to listen
// on every interface.
func WithAddr(addr string) Option {
	return optionFunc(func(o *options) { o.addr = addr })
}

// WithTLS serves HTTPS, with HTTP/2 negotiated by ALPN, using a certificate
// and key in PEM files. [New] loads them once and reports an error if it
// cannot; to rotate certificates, use [WithTLSConfig] with GetCertificate.
// The default is plain HTTP (and h2c with [WithH2C]).
func WithTLS(certFile, keyFile string) Option {
	return optionFunc(func(o *options) { o.certFile, o.keyFile = certFile, keyFile })
}

// WithTLSConfig serves HTTPS, with HTTP/2 negotiated by ALPN, with a copy of
// cfg, which must provide Certificates or GetCertificate. [New] clones cfg:
// later changes to it have no effect. The default is plain HTTP.
func WithTLSConfig(cfg *tls.Config) Option {
	return optionFunc(func(o *options) { o.tlsConfig = cfg })
}

// WithH2C also serves HTTP/2 without TLS, to clients that speak it with prior
// knowledge ([http.Protocols.SetUnencryptedHTTP2]), e.g. behind a proxy that
// forwards h2c. The default is false: plain connections speak HTTP/1 only.
func WithH2C(enable bool) Option {
	return optionFunc(func(o *options) { o.h2c = enable })
}

// WithReadHeaderTimeout bounds the time a client may take to send the request
// header, against slowloris clients ([http.Server.ReadHeaderTimeout]). The
// default is 10s; 0 means no limit.
func WithReadHeaderTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.readHeaderTimeout = d })
}

// WithKeepAliveTimeout bounds the time a keep-alive connection may wait for
// its next request ([http.Server.IdleTimeout]; nginx's keepalive_timeout,
// PHP-FPM has none of its own). The default is [DefaultKeepAliveTimeout],
// 75s, nginx's; 0 means no limit. It is not a session's idle timeout
// (session.WithIdleTimeout).
func WithKeepAliveTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.keepAliveTimeout = d })
}

// WithMaxHeaderBytes bounds the size of a request header
// ([http.Server.MaxHeaderBytes]). The default is 64 KiB, twice nginx's
// large_client_header_buffers (4 × 8k).
func WithMaxHeaderBytes(n int) Option {
	return optionFunc(func(o *options) { o.maxHeaderBytes = n })
}

// WithMaxBodyBytes bounds the size of a request body. The default is 8 MiB,
// PHP's post_max_size; 0 means no limit. A request that announces a larger
// Content-Length is answered 413 Request Entity Too Large before the handler
// runs; a chunked body is cut at the limit by [http.MaxBytesReader], whose
// Read then returns an [*http.MaxBytesError].
func WithMaxBodyBytes(n int64) Option {
	return optionFunc(func(o *options) { o.maxBodyBytes = n })
}

// WithDeadPeerTimeout sets how soon a client that vanished without a FIN or
// an RST (a pulled cable, a laptop lid, a mobile link gone) is noticed: a
// peer that acknowledges nothing for d is aborted with
// [lifeline.CauseSilentPeer] ([lifeline.ErrSilentPeer]) within about d plus
// one check interval (d/8), whether the server writes or not, over HTTP/1
// and HTTP/2 (measured with the default: 4.0 to 4.6 s). A client that
// acknowledges but reads slowly or has paused (a phone on a weak link, a
// paused download: its receive window shut, its window probes answered) is
// alive and never taken for a silent peer, however long it pauses; only
// [lifeline.WithStallTimeout] bounds it. The default is 4s, so that a silent
// peer is noticed within 5 s; the minimum is [MinDeadPeerTimeout]; 0 leaves
// the operating system's and Go's defaults (15s keep-alive idle time, about
// two and a half minutes to notice a silent idle peer, up to 15 minutes of
// retransmissions for an unacknowledged write) and turns the pool's check
// off.
//
// From d the server derives three things. While data or probes are
// outstanding, the pool decides ([lifeline.ServerConfig]): on Linux it reads
// each connection's TCP_INFO every d/8 while runs are attached to it, and a
// peer that has acknowledged nothing for d is silent; its runs are aborted
// and its connection closed. While nothing is outstanding (a handler that
// writes nothing), TCP keep-alive, rounded up to whole seconds (idle time
// about 2/5 of d, then about three probes until d), makes the kernel drop a
// peer that answers no probe at about d, with ETIMEDOUT. And, unless
// [WithHTTP2PingTimeout] says otherwise, HTTP/2 PINGs follow the same
// schedule. TCP_USER_TIMEOUT is not set: it cannot tell a dead peer from a
// live one whose window is shut, and since Linux 5.11 it cuts the latter.
//
// The price of a short d: a client whose network loses every packet for d
// (a train in a tunnel) loses the connection instead of resuming.
func WithDeadPeerTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.deadPeerTimeout = d })
}

// WithHTTP2PingTimeout sets how soon an HTTP/2 connection that receives
// nothing, not even the answer to a PING, is closed: a PING is sent after
// about 2/5 of d without a frame, and the connection is closed when no frame
// arrived by d. Closing it ends every stream on it, and their runs see
// [lifeline.ErrClientAborted]. The default follows [WithDeadPeerTimeout]; 0
// sends no PINGs.
func WithHTTP2PingTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.h2PingTimeout, o.h2PingSet = d, true })
}

// WithDrainTimeout bounds a graceful shutdown: after the context given to
// [Server.Serve] or [ListenAndServe] is done, the server stops accepting, lets open
// responses complete and waits for every run, including runs still working
// after [lifeline.Run.Finish], for at most d. Runs still working then are
// cancelled with [lifeline.ErrServerShutdown] and logged, their connections
// get 3s more to answer before they are closed (Serve returns at most d + 3s
// after the context is done), and Serve returns an error matching
// [ErrDrainIncomplete]. The default is 25s, within the 30s
// Kubernetes waits before it kills a pod; keep it below your supervisor's
// kill timeout (docker stop waits 10s). 0 cancels at once.
func WithDrainTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.drainTimeout = d })
}

// WithDrainFunc adds work the drain waits for beside the pool's runs, such
// as a job queue's workers: when the drain begins, f is called on a
// goroutine of its own with a context that ends at the drain deadline
// ([WithDrainTimeout]); [Server.Serve] returns only after every such f has
// returned, and joins their errors to its own. The admin listener
// ([WithAdmin]) stays up until then. f must return soon after its context
// ends. Each call adds one more function; a nil f is an error from [New].
// The default is none: the drain waits for the pool's runs only.
func WithDrainFunc(f func(ctx context.Context) error) Option {
	return optionFunc(func(o *options) { o.drainFuncs = append(o.drainFuncs, f) })
}

// WithLogger sets the logger for start, shutdown, runs cut short by the
// drain deadline, and net/http's own errors (TLS handshakes, lost HTTP/2
// PINGs). The default is [slog.Default].
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}
