// Package cstest runs a test against a real server in each protocol mode
// Lifeline supports: HTTP/1.1, HTTP/2 over TLS and h2c (HTTP/2 without TLS),
// like net/http's clientserver_test.go.
package cstest

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Mode is a protocol mode.
type Mode string

// The modes.
const (
	H1  Mode = "h1"
	H2  Mode = "h2"
	H2C Mode = "h2c"
)

// Modes lists every mode.
var Modes = []Mode{H1, H2, H2C}

// Server is a started test server and a client that speaks its mode.
type Server struct {
	*httptest.Server
	Mode   Mode
	Client *http.Client
}

// Configurer is called with the http.Server before it starts (for
// Pool.ConfigureServer).
type Configurer func(*http.Server)

// Start starts h on 127.0.0.1 in mode m and closes it when the test ends.
func Start(t testing.TB, m Mode, h http.Handler, configure ...Configurer) *Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	for _, c := range configure {
		c(ts.Config)
	}
	var client *http.Client
	switch m {
	case H1:
		ts.Start()
		client = ts.Client()
	case H2:
		ts.EnableHTTP2 = true
		ts.StartTLS()
		client = ts.Client()
	case H2C:
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		ts.Config.Protocols = &p
		ts.Start()
		var cp http.Protocols
		cp.SetUnencryptedHTTP2(true)
		client = &http.Client{Transport: &http.Transport{Protocols: &cp}}
	default:
		t.Fatalf("cstest: unknown mode %q", m)
	}
	client.Timeout = 30 * time.Second
	t.Cleanup(func() {
		client.CloseIdleConnections()
		ts.Close()
	})
	return &Server{Server: ts, Mode: m, Client: client}
}

// Run runs f as a subtest in every mode.
func Run(t *testing.T, f func(t *testing.T, m Mode)) {
	for _, m := range Modes {
		t.Run(string(m), func(t *testing.T) { f(t, m) })
	}
}

// TLSConfig returns a client TLS config trusting s (HTTP/2 mode).
func (s *Server) TLSConfig() *tls.Config {
	if s.Mode != H2 {
		return nil
	}
	return s.Client.Transport.(*http.Transport).TLSClientConfig
}
