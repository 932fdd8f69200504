package lifelinetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/server"
)

// requestHeader carries the number a [Server]'s client gives each request,
// so that the server side can tell the client which run served it. The
// server removes it before the handler sees the request.
const requestHeader = "Lifelinetest-Request"

// dialFunc has the signature of [net.Dialer.DialContext].
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Server is a handler served by package server's set-up (socket-level abort
// detection, dead-peer timeout, drain) on a real loopback listener, or on an
// in-memory network ([WithInMemoryNetwork]), with clients that know which
// run served each of their requests and clients that leave at a chosen point
// ([Server.Leave]). Create it with [Pool.NewServer]; it is closed, and its
// runs drained, when the test ends. Its methods may be called from any
// goroutine, except where they say otherwise.
type Server struct {
	// URL is the server's base URL, http://host:port, with no trailing
	// slash. Over an in-memory network the host is a placeholder that only
	// this Server's clients can reach.
	URL string

	p      *Pool
	opts   options
	dial   dialFunc // how clients connect; nil: a plain net.Dialer
	client *http.Client
	silent *silentNet // WithSilentClients, else nil

	seq atomic.Uint64
	mu  sync.Mutex // guards reqs
	// reqs are the requests this Server's clients sent, by the number in
	// requestHeader.
	reqs map[uint64]*tracked
}

// tracked is the server side of one request sent by a Server's client.
type tracked struct {
	arrived chan struct{}    // closed when the request reached the server
	done    chan struct{}    // closed when the pool handed the response back
	out     lifeline.Outcome // how it ended; set before done is closed
}

// NewServer serves h, with abort detection for p, until the test ends. h is
// served behind p.Middleware(): a plain handler becomes a run of p, and an
// application's router already wired to p keeps its own runs (nested, the
// pool's middleware adjusts the run that exists). The
// server is [server.New]'s, listening on 127.0.0.1 on a port of its own
// (unless opts say otherwise), with the pool's log. A pool serves one
// server, since the server shuts its pool down when it drains.
//
// A nil or conflicting option, or a second server for p, fails the test
// with an error wrapping [ErrInvalidOption]. When the test ends, the server
// drains: it waits for every run, and a drain cut short fails the test.
// Call NewServer from the test's goroutine.
func (p *Pool) NewServer(h http.Handler, opts ...Option) *Server {
	p.tb.Helper()
	o := defaultOptions()
	for i, opt := range opts {
		if opt == nil {
			p.tb.Fatalf("lifelinetest: NewServer: %v", fmt.Errorf("%w: option %d is nil", ErrInvalidOption, i))
		}
		opt.apply(&o)
	}
	if err := o.validate(); err != nil {
		p.tb.Fatalf("lifelinetest: NewServer: %v", err)
	}
	p.mu.Lock()
	served := p.served
	p.served = true
	p.mu.Unlock()
	if served {
		p.tb.Fatalf("lifelinetest: NewServer: %v", fmt.Errorf("%w: a pool serves one server", ErrInvalidOption))
	}

	s := &Server{p: p, opts: o, reqs: make(map[uint64]*tracked)}
	log := slog.New(slog.NewTextHandler(p.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	addr := "127.0.0.1:0"
	if o.silent {
		s.silent = newSilentNet(p.tb)
		addr = net.JoinHostPort(s.silent.hostAddr, "0")
	}
	sopts := append([]server.Option{server.WithAddr(addr), server.WithLogger(log), server.WithH2C(o.h2c)}, o.serverOpts...)
	srv, err := server.New(p.Pool, s.track(p.Middleware()(h)), sopts...)
	if err != nil {
		p.tb.Fatalf("lifelinetest: NewServer: %v", err)
	}
	var ln net.Listener
	if o.inMemory {
		pl := newPipeListener()
		ln, s.dial = pl, pl.dial
	} else if ln, err = srv.Listen(context.Background()); err != nil {
		p.tb.Fatalf("lifelinetest: NewServer: %v", err)
	}
	s.URL = "http://" + ln.Addr().String()
	s.client = &http.Client{Transport: s.transport(s.dial)}

	ctx, cancel := context.WithCancel(context.Background())
	served2 := make(chan error, 1)
	go func() { served2 <- srv.Serve(ctx, ln) }()
	p.tb.Cleanup(func() {
		s.client.CloseIdleConnections()
		cancel()
		if err := <-served2; err != nil {
			p.tb.Errorf("lifelinetest: server drain: %v", err)
		}
	})
	return s
}

// transport returns a client transport for the server's protocol that
// connects with dial (a plain net.Dialer when nil).
func (s *Server) transport(dial dialFunc) *http.Transport {
	var protos http.Protocols
	if s.opts.h2c {
		protos.SetUnencryptedHTTP2(true)
	} else {
		protos.SetHTTP1(true)
	}
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	return &http.Transport{Protocols: &protos, DialContext: dial}
}

// track is the outermost handler: for a request from one of the Server's
// clients it notes the arrival and, when the pool hands the response back,
// the [lifeline.Outcome], which names the run.
func (s *Server) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseUint(r.Header.Get(requestHeader), 10, 64)
		s.mu.Lock()
		t := s.reqs[n]
		s.mu.Unlock()
		if err != nil || t == nil {
			next.ServeHTTP(w, r)
			return
		}
		r, out := s.p.WithOutcome(r)
		r.Header = r.Header.Clone()
		r.Header.Del(requestHeader)
		defer func() {
			t.out = *out
			close(t.done) // also when ServeHTTP panics to cut the response
		}()
		close(t.arrived)
		next.ServeHTTP(w, r)
	})
}

// Client returns an HTTP client for the server's protocol and network. Its
// requests are not tracked: use [Pool.NextRecord] for their runs, or
// [Server.Do], whose [Result] knows its run.
func (s *Server) Client() *http.Client { return s.client }

// Result is what one of a [Server]'s clients got.
type Result struct {
	// Code, Header and Proto are the response's, when one arrived (Code is
	// 0 otherwise).
	Code   int
	Header http.Header
	Proto  string
	// Body is what the client read of the body: all of it for [Server.Do],
	// the bytes read before leaving for [Server.Leave].
	Body string
	// Err is the client's error: from sending or from reading the body. It
	// is nil when a complete response was read ([Server.Do]), or when the
	// client left as planned ([Server.Leave]).
	Err error

	s *Server
	t *tracked
}

// Outcome waits until the pool handed the request's response back to
// net/http and returns how it ended, naming the run in Run. It fails the
// test with [ErrWaitTimeout] when the request did not reach the server, or
// its response did not end, within [Pool.Wait]. Call it from the test's
// goroutine.
func (r *Result) Outcome() lifeline.Outcome {
	r.s.p.tb.Helper()
	out, err := r.s.outcome(r.t)
	if err != nil {
		r.s.p.tb.Fatalf("lifelinetest: Result.Outcome: %v", err)
	}
	return out
}

// Record waits for the run that served the request to end and returns its
// final record, including work done after [lifeline.Run.Finish]. It fails
// the test with [ErrNoRun] when the request got no run and with
// [ErrWaitTimeout] when a wait lasts longer than [Pool.Wait]. Call it from
// the test's goroutine.
func (r *Result) Record() lifeline.Record {
	r.s.p.tb.Helper()
	out, err := r.s.outcome(r.t)
	if err == nil {
		var rec lifeline.Record
		if rec, err = r.s.p.waitRun(out.Run); err == nil {
			return rec
		}
	}
	r.s.p.tb.Fatalf("lifelinetest: Result.Record: %v", err)
	return lifeline.Record{}
}

// outcome waits for t's response to end, bounded by the pool's Wait.
func (s *Server) outcome(t *tracked) (lifeline.Outcome, error) {
	if err := s.await(t.done, "the response to end"); err != nil {
		return lifeline.Outcome{}, err
	}
	return t.out, nil
}

// await waits for ch, bounded by the pool's Wait.
func (s *Server) await(ch <-chan struct{}, what string) error {
	tm := time.NewTimer(s.p.Wait)
	defer tm.Stop()
	select {
	case <-ch:
		return nil
	case <-tm.C:
		return fmt.Errorf("waited %v for %s: %w", s.p.Wait, what, ErrWaitTimeout)
	}
}

// prepare returns a copy of req addressed to the server and numbered, and
// the Result that will describe it. A request made with
// [net/http/httptest.NewRequest] (a path, RequestURI set) is accepted: its
// scheme and host are replaced with the server's.
func (s *Server) prepare(req *http.Request) (*http.Request, *Result) {
	n := s.seq.Add(1)
	t := &tracked{arrived: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	s.reqs[n] = t
	s.mu.Unlock()
	req = req.Clone(req.Context())
	req.RequestURI = ""
	base := s.URL[len("http://"):]
	req.URL.Scheme, req.URL.Host = "http", base
	if req.Host == "example.com" { // httptest.NewRequest's default
		req.Host = ""
	}
	req.Header.Set(requestHeader, strconv.FormatUint(n, 10))
	return req, &Result{s: s, t: t}
}

// fill copies resp's status line and header into r.
func (r *Result) fill(resp *http.Response) {
	r.Code, r.Header, r.Proto = resp.StatusCode, resp.Header, resp.Proto
}

// Do sends req and reads the whole response. req may be a client request
// or one made with [net/http/httptest.NewRequest]; either way it goes to
// this server. Network errors are in [Result.Err], not test failures.
func (s *Server) Do(req *http.Request) *Result {
	req, res := s.prepare(req)
	resp, err := s.client.Do(req)
	if err != nil {
		res.Err = err
		return res
	}
	defer resp.Body.Close()
	res.fill(resp)
	b, err := io.ReadAll(resp.Body)
	res.Body, res.Err = string(b), err
	return res
}

// Get sends a GET for path (such as "/orders/7") and reads the whole
// response, as [Server.Do].
func (s *Server) Get(path string) *Result {
	req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
	if err != nil {
		return &Result{s: s, t: &tracked{arrived: make(chan struct{}), done: make(chan struct{})}, Err: err}
	}
	return s.Do(req)
}
