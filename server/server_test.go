package server_test

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/testcert"
	"github.com/lifeline-go/lifeline/server"
)

func TestNewInvalid(t *testing.T) {
	log, _ := testLogger(t)
	pool := newPool(t, log)
	h := http.NotFoundHandler()
	tests := []struct {
		name string
		pool *lifeline.Pool
		h    http.Handler
		opts []server.Option
	}{
		{name: "nil pool", h: h},
		{name: "nil handler", pool: pool},
		{name: "empty addr", pool: pool, h: h, opts: []server.Option{server.WithAddr("")}},
		{name: "cert without key", pool: pool, h: h, opts: []server.Option{server.WithTLS("cert.pem", "")}},
		{name: "missing cert files", pool: pool, h: h, opts: []server.Option{server.WithTLS("/nonexistent/cert.pem", "/nonexistent/key.pem")}},
		{name: "both TLS options", pool: pool, h: h, opts: []server.Option{server.WithTLS("c", "k"), server.WithTLSConfig(&tls.Config{})}},
		{name: "TLS config without certificate", pool: pool, h: h, opts: []server.Option{server.WithTLSConfig(&tls.Config{})}},
		{name: "negative header timeout", pool: pool, h: h, opts: []server.Option{server.WithReadHeaderTimeout(-1)}},
		{name: "negative keep-alive timeout", pool: pool, h: h, opts: []server.Option{server.WithKeepAliveTimeout(-1)}},
		{name: "zero header bytes", pool: pool, h: h, opts: []server.Option{server.WithMaxHeaderBytes(0)}},
		{name: "negative body bytes", pool: pool, h: h, opts: []server.Option{server.WithMaxBodyBytes(-1)}},
		{name: "dead-peer timeout too short", pool: pool, h: h, opts: []server.Option{server.WithDeadPeerTimeout(time.Second)}},
		{name: "negative dead-peer timeout", pool: pool, h: h, opts: []server.Option{server.WithDeadPeerTimeout(-time.Second)}},
		{name: "negative ping timeout", pool: pool, h: h, opts: []server.Option{server.WithHTTP2PingTimeout(-time.Second)}},
		{name: "negative drain timeout", pool: pool, h: h, opts: []server.Option{server.WithDrainTimeout(-time.Second)}},
		{name: "nil option", pool: pool, h: h, opts: []server.Option{server.WithAddr(":0"), nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := server.New(tt.pool, tt.h, tt.opts...)
			if !errors.Is(err, server.ErrInvalidOption) {
				t.Errorf("New() = %v, %v; want an error matching ErrInvalidOption", s, err)
			}
		})
	}
}

// writeCert writes cert as PEM files and returns their paths.
func writeCert(t *testing.T, cert tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	keyDER, err := x509MarshalKey(cert)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestProtocols serves a Lifeline route over every protocol the server
// offers and checks what the handler sees.
func TestProtocols(t *testing.T) {
	cert, roots := testcert.New(t)
	certFile, keyFile := writeCert(t, cert)
	tlsClient := func() *http.Transport {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}
		return tr
	}
	h1Only := func() *http.Transport {
		tr := tlsClient()
		tr.ForceAttemptHTTP2 = false
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		return tr
	}
	tests := []struct {
		name      string
		opts      []server.Option
		scheme    string
		transport func() *http.Transport
		wantProto string
	}{
		{name: "h1", scheme: "http", transport: func() *http.Transport { return &http.Transport{} }, wantProto: "HTTP/1.1"},
		{name: "h2c", opts: []server.Option{server.WithH2C(true)}, scheme: "http", transport: func() *http.Transport { return h2cTransport(nil) }, wantProto: "HTTP/2.0"},
		{name: "h2 TLS files", opts: []server.Option{server.WithTLS(certFile, keyFile)}, scheme: "https", transport: tlsClient, wantProto: "HTTP/2.0"},
		{name: "h1 TLS files", opts: []server.Option{server.WithTLS(certFile, keyFile)}, scheme: "https", transport: h1Only, wantProto: "HTTP/1.1"},
		{name: "h2 TLS config", opts: []server.Option{server.WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}})}, scheme: "https", transport: tlsClient, wantProto: "HTTP/2.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log, _ := testLogger(t)
			pool := newPool(t, log)
			h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, isRun := lifeline.FromContext(r.Context())
				fmt.Fprintf(w, "%s run=%v", r.Proto, isRun)
			}))
			srv := start(t, pool, h, append(tt.opts, server.WithLogger(log))...)
			tr := tt.transport()
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get(tt.scheme + "://" + srv.addr + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.wantProto + " run=true"; string(body) != want {
				t.Errorf("handler saw %q, want %q", body, want)
			}
			tr.CloseIdleConnections()
			if err := srv.stop(); err != nil {
				t.Errorf("Serve after stop = %v, want nil", err)
			}
		})
	}
}

// TestLimits checks the request limits through a real connection.
func TestLimits(t *testing.T) {
	log, _ := testLogger(t)
	pool := newPool(t, log)
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "too big", http.StatusRequestEntityTooLarge)
			return
		}
		fmt.Fprintf(w, "%d", n)
	}))
	srv := start(t, pool, h, server.WithLogger(log), server.WithMaxBodyBytes(100), server.WithMaxHeaderBytes(4096))
	url := "http://" + srv.addr + "/"
	tests := []struct {
		name     string
		req      func() *http.Request
		wantCode int
	}{
		{"small body", func() *http.Request {
			r, _ := http.NewRequest("POST", url, strings.NewReader(strings.Repeat("x", 100)))
			return r
		}, http.StatusOK},
		{"announced large body", func() *http.Request {
			r, _ := http.NewRequest("POST", url, strings.NewReader(strings.Repeat("x", 101)))
			return r
		}, http.StatusRequestEntityTooLarge},
		{"chunked large body", func() *http.Request {
			r, _ := http.NewRequest("POST", url, io.MultiReader(strings.NewReader(strings.Repeat("x", 101))))
			r.ContentLength = -1
			return r
		}, http.StatusRequestEntityTooLarge},
		{"large header", func() *http.Request {
			r, _ := http.NewRequest("GET", url, nil)
			r.Header.Set("X-Big", strings.Repeat("x", 8192))
			return r
		}, http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Do(tt.req())
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantCode)
			}
		})
	}
}

func TestServeTwice(t *testing.T) {
	log, _ := testLogger(t)
	pool := newPool(t, log)
	s, err := server.New(pool, http.NotFoundHandler(), server.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := serveOn(t, s, ln)
	// A response proves the first Serve is under way.
	tr := &http.Transport{}
	resp, err := (&http.Client{Transport: tr}).Get("http://" + srv.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tr.CloseIdleConnections()
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	if err := s.Serve(context.Background(), ln2); !errors.Is(err, server.ErrServed) {
		t.Errorf("second Serve = %v, want ErrServed", err)
	}
	if err := srv.stop(); err != nil {
		t.Errorf("first Serve = %v, want nil", err)
	}
}

// brokenListener fails every Accept with a permanent error.
type brokenListener struct{ net.Listener }

var errBroken = errors.New("listener broken")

func (brokenListener) Accept() (net.Conn, error) { return nil, errBroken }

func TestListenerFailure(t *testing.T) {
	log, _ := testLogger(t)
	pool := newPool(t, log)
	s, err := server.New(pool, http.NotFoundHandler(), server.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), brokenListener{ln}) }()
	select {
	case err := <-done:
		if !errors.Is(err, errBroken) {
			t.Errorf("Serve = %v, want the listener's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its listener failed")
	}
}
