package server_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/server"
)

// quiet is a logger for the examples that print nothing.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// A complete program: serve until SIGINT or SIGTERM, drain, and exit non-zero
// when the drain deadline cut runs short. Compile-only: it waits for a signal.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A second signal during the drain kills the process at once.
	context.AfterFunc(ctx, stop)

	pool, err := lifeline.NewPool()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/report", func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		fmt.Fprintln(w, "report queued")
		_ = rn.Finish() // answer now, keep working; the drain waits for it
		// ... build the report with rn.Context() ...
	})
	err = server.ListenAndServe(ctx, pool, pool.Middleware()(mux), server.WithAddr(":8080"))
	if errors.Is(err, server.ErrDrainIncomplete) {
		os.Exit(1)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

// Run listens on the address of WithAddr and serves until ctx is done.
// Compile-only: it waits for a signal.
func ExampleListenAndServe() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pool, _ := lifeline.NewPool()
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello") })
	if err := server.ListenAndServe(ctx, pool, pool.Middleware()(hello)); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}

// Serve takes any listener, here one of the test's own on a free loopback
// port; the context stops it.
func ExampleServer_Serve() {
	pool, _ := lifeline.NewPool(lifeline.WithLogger(quiet))
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		fmt.Fprintf(w, "hello from run %d", rn.ID())
	})
	s, err := server.New(pool, pool.Middleware()(hello), server.WithLogger(quiet))
	if err != nil {
		fmt.Println(err)
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))

	cancel() // as SIGTERM would
	fmt.Println("Serve:", <-served)
	// Output:
	// hello from run 1
	// Serve: <nil>
}

// New validates its options once.
func ExampleNew() {
	pool, _ := lifeline.NewPool(lifeline.WithLogger(quiet))
	_, err := server.New(pool, http.NotFoundHandler(), server.WithDeadPeerTimeout(500*time.Millisecond))
	fmt.Println(errors.Is(err, server.ErrInvalidOption))
	// Output: true
}

// Listen applies the dead-peer settings to the listening socket; its address
// is known before serving starts.
func ExampleServer_Listen() {
	pool, _ := lifeline.NewPool(lifeline.WithLogger(quiet))
	s, _ := server.New(pool, http.NotFoundHandler(), server.WithAddr("127.0.0.1:0"), server.WithLogger(quiet))
	ln, err := s.Listen(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	fmt.Println(ln.Addr().Network())
	// Output: tcp
}

// A client that vanished without a FIN or an RST is noticed within 3s, writing
// or not. Compile-only: it waits for a signal.
func ExampleWithDeadPeerTimeout() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pool, _ := lifeline.NewPool()
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		<-rn.Context().Done() // long silent work
		if errors.Is(context.Cause(rn.Context()), lifeline.ErrSilentPeer) {
			slog.Info("client vanished", "run", rn.ID())
		}
	}))
	_ = server.ListenAndServe(ctx, pool, h, server.WithDeadPeerTimeout(3*time.Second))
}

// HTTP/2 PINGs can have a schedule of their own, here for clients behind
// proxies that keep TCP alive for them. Compile-only: it waits for a signal.
func ExampleWithHTTP2PingTimeout() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pool, _ := lifeline.NewPool()
	_ = server.ListenAndServe(ctx, pool, pool.Middleware()(http.NotFoundHandler()),
		server.WithTLS("cert.pem", "key.pem"),
		server.WithHTTP2PingTimeout(10*time.Second))
}

// HTTPS with HTTP/2, from PEM files. Compile-only: it needs a certificate.
func ExampleWithTLS() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pool, _ := lifeline.NewPool()
	err := server.ListenAndServe(ctx, pool, pool.Middleware()(http.NotFoundHandler()),
		server.WithAddr(":8443"), server.WithTLS("/etc/lifeline/cert.pem", "/etc/lifeline/key.pem"))
	fmt.Println(err)
}

// HTTPS with a certificate that GetCertificate can rotate. Compile-only: it
// needs a certificate.
func ExampleWithTLSConfig() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pool, _ := lifeline.NewPool()
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			cert, err := tls.LoadX509KeyPair("/etc/lifeline/cert.pem", "/etc/lifeline/key.pem")
			return &cert, err
		},
	}
	_ = server.ListenAndServe(ctx, pool, pool.Middleware()(http.NotFoundHandler()), server.WithAddr(":8443"), server.WithTLSConfig(cfg))
}

// h2c: HTTP/2 without TLS, for clients with prior knowledge.
func ExampleWithH2C() {
	pool, _ := lifeline.NewPool(lifeline.WithLogger(quiet))
	proto := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.Proto) })
	s, _ := server.New(pool, pool.Middleware()(proto), server.WithH2C(true), server.WithLogger(quiet))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()

	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: &http.Transport{Protocols: &protos}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))
	// Output: HTTP/2.0
}

// A body announced larger than the limit is refused before the handler runs.
func ExampleWithMaxBodyBytes() {
	pool, _ := lifeline.NewPool(lifeline.WithLogger(quiet))
	s, _ := server.New(pool, pool.Middleware()(http.NotFoundHandler()), server.WithMaxBodyBytes(1<<10), server.WithLogger(quiet))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()

	resp, err := http.Post("http://"+ln.Addr().String()+"/upload", "text/plain", strings.NewReader(strings.Repeat("x", 2<<10)))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output: 413 Request Entity Too Large
}

// The drain deadline cuts a run that keeps working after Finish; Serve says
// so, and the run sees ErrServerShutdown.
func ExampleWithDrainTimeout() {
	pool, _ := lifeline.NewPool(lifeline.WithLogger(quiet))
	cause := make(chan error, 1)
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		fmt.Fprint(w, "accepted")
		_ = rn.Finish()
		<-rn.Context().Done() // work that does not end by itself
		cause <- context.Cause(rn.Context())
	}))
	s, _ := server.New(pool, h, server.WithDrainTimeout(100*time.Millisecond), server.WithLogger(quiet))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))

	cancel()
	err = <-served
	fmt.Println(errors.Is(err, server.ErrDrainIncomplete))
	fmt.Println(errors.Is(<-cause, lifeline.ErrServerShutdown))
	// Output:
	// accepted
	// true
	// true
}

// The remaining options, with their defaults spelled out. Compile-only: it
// waits for a signal.
func ExampleWithAddr() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pool, _ := lifeline.NewPool()
	_ = server.ListenAndServe(ctx, pool, pool.Middleware()(http.NotFoundHandler()),
		server.WithAddr(server.DefaultAddr),
		server.WithReadHeaderTimeout(server.DefaultReadHeaderTimeout),
		server.WithKeepAliveTimeout(server.DefaultKeepAliveTimeout),
		server.WithMaxHeaderBytes(server.DefaultMaxHeaderBytes),
		server.WithMaxBodyBytes(server.DefaultMaxBodyBytes),
		server.WithDeadPeerTimeout(server.DefaultDeadPeerTimeout),
		server.WithDrainTimeout(server.DefaultDrainTimeout),
		server.WithLogger(slog.Default()),
	)
}

// The status page and the metrics on an admin listener of their own, on
// loopback, so that they stay reachable while the server drains.
// Compile-only: it serves until SIGTERM.
func ExampleWithAdmin() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	pool, err := lifeline.NewPool()
	if err != nil {
		fmt.Println(err)
		return
	}
	// With package status: st, err := status.New(pool); then
	// admin.Handle("/status", st) and admin.Handle("/metrics", st.Metrics()).
	admin := http.NewServeMux()
	admin.HandleFunc("/active", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, len(pool.Active()), "runs")
	})
	app := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	}))
	err = server.ListenAndServe(ctx, pool, app, server.WithAdmin(server.DefaultAdminAddr, admin))
	if err != nil {
		fmt.Println(err)
	}
}
