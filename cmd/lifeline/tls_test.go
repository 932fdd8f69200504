package main

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/testcert"
)

// With -tls-cert and -tls-key the server speaks HTTPS, HTTP/2 by ALPN, and
// says so on stdout.
func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	ts := startServer(t, "-tls-cert", certFile, "-tls-key", keyFile)
	if !strings.HasPrefix(ts.base, "https://127.0.0.1:") {
		t.Fatalf("listening on %q, want https://127.0.0.1:PORT", ts.base)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := c.Get(ts.base + "/demo/finish?work=0s")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Errorf("answer: %s over %s, want 200 over HTTP/2", resp.Status, resp.Proto)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key into PEM files.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	cert, pool := testcert.New(t)
	certFile, keyFile = testcert.Files(t, cert)
	return certFile, keyFile, pool
}
