package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/syncbuf"
	"github.com/lifeline-go/lifeline/server"
)

// testLogger returns a logger that collects everything and prints it when the
// test fails.
func testLogger(t testing.TB) (*slog.Logger, *syncbuf.Buffer) {
	t.Helper()
	buf := &syncbuf.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", buf)
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// newPool returns a pool that logs into log.
func newPool(t testing.TB, log *slog.Logger, opts ...lifeline.Option) *lifeline.Pool {
	t.Helper()
	pool, err := lifeline.NewPool(append([]lifeline.Option{lifeline.WithLogger(log)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

// running is a Server serving in the background until stop.
type running struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// stop cancels the Server's context, as a signal would, and returns what
// Serve returned. It may be called more than once.
func (r *running) stop() error {
	r.once.Do(func() {
		r.cancel()
		r.err = <-r.done
	})
	return r.err
}

// start creates a Server for h, listens with Server.Listen on addr (a
// loopback port unless opts say otherwise) and serves until the test ends.
func start(t testing.TB, pool *lifeline.Pool, h http.Handler, opts ...server.Option) *running {
	t.Helper()
	opts = append([]server.Option{server.WithAddr("127.0.0.1:0")}, opts...)
	s, err := server.New(pool, h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := s.Listen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, s, ln)
}

// serveOn serves s on ln until the test ends.
func serveOn(t testing.TB, s *server.Server, ln net.Listener) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() { _ = r.stop() })
	return r
}

// h2cTransport returns a transport that speaks HTTP/2 without TLS.
func h2cTransport(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Transport{Protocols: &p, DialContext: dial}
}

// logHas reports whether the log has a line containing every part.
func logHas(log string, parts ...string) bool {
	for line := range strings.Lines(log) {
		all := true
		for _, p := range parts {
			if !strings.Contains(line, p) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// x509MarshalKey returns cert's private key in PKCS #8 DER.
func x509MarshalKey(cert tls.Certificate) ([]byte, error) {
	return x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
}
