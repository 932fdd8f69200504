// Package serve is the server side of the suite's load tests: a small
// HTTP server, bare net/http or through Lifeline, that the suite starts in
// a child process and drives with wrk and h2load over loopback.
package serve

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/lifeline-go/lifeline"
)

// Handler kinds served by [Main].
const (
	// Hello answers "Hello, world!\n", the handler of the root package's
	// BenchmarkOverhead.
	Hello = "hello"
	// Finish is the seed scenario "answer, then 200 ms of work": it writes
	// a line, calls Run.Finish and sleeps 200 ms. It needs Lifeline.
	Finish = "finish"
)

// WorkAfterFinish is how long the [Finish] handler works after answering,
// the usleep(200000) of the PHP script it is compared with.
const WorkAfterFinish = 200 * time.Millisecond

// ErrUsage is returned by [Main] and [New] for invalid arguments.
var ErrUsage = errors.New("serve: invalid arguments")

// Server is one configured server: its handler and, with Lifeline, its
// pool.
type Server struct {
	srv  *http.Server
	pool *lifeline.Pool // nil for bare net/http
}

// New returns a server for the handler kind, bare or through Lifeline.
// Both speak HTTP/1.1 and HTTP/2 with prior knowledge (h2c) with the same
// http.Server settings; the Lifeline one also installs the pool's
// connection hooks ([lifeline.Pool.ConfigureServer]), as a Lifeline user
// must.
func New(kind string, withLifeline bool, log *slog.Logger) (*Server, error) {
	var h http.Handler
	switch kind {
	case Hello:
		h = http.HandlerFunc(hello)
	case Finish:
		if !withLifeline {
			return nil, fmt.Errorf("%w: handler %q needs Lifeline", ErrUsage, kind)
		}
		h = http.HandlerFunc(finish)
	default:
		return nil, fmt.Errorf("%w: unknown handler %q", ErrUsage, kind)
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	s := &Server{srv: &http.Server{Handler: h, Protocols: &p, ReadHeaderTimeout: 10 * time.Second}}
	if withLifeline {
		pool, err := lifeline.NewPool(lifeline.WithLogger(log))
		if err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
		s.pool = pool
		s.srv.Handler = pool.Middleware()(h)
		pool.ConfigureServer(s.srv)
	}
	return s, nil
}

func hello(w http.ResponseWriter, _ *http.Request) {
	_, _ = io.WriteString(w, "Hello, world!\n")
}

func finish(w http.ResponseWriter, r *http.Request) {
	rn, ok := lifeline.FromContext(r.Context())
	if !ok {
		http.Error(w, "not a Lifeline run", http.StatusInternalServerError)
		return
	}
	_, _ = io.WriteString(w, "answered\n")
	_ = rn.Finish()
	time.Sleep(WorkAfterFinish)
}

// Serve serves on ln until ctx is done, then shuts the server and the pool
// down within grace.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if s.pool != nil {
		err = errors.Join(err, s.pool.Shutdown(sctx))
	}
	<-errc
	return err
}

// Main is the child process's entry point: it parses args (-handler,
// -lifeline, -addr), listens, prints "listening on ADDR" on stdout, and
// serves until stdin reaches end of file (the suite closes it, or dies) or
// ctx is done.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kind := fs.String("handler", Hello, "handler: hello or finish")
	withLifeline := fs.Bool("lifeline", false, "serve through Lifeline")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := New(*kind, *withLifeline, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(stdin))
		cancel()
	}()
	return s.Serve(ctx, ln, 5*time.Second)
}
