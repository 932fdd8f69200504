// Package abortlat measures closed-client detection latency (P2 of the
// suite): the time from a client's close, reset, close with an unread
// request body, or HTTP/2 stream reset, to the handler's request context
// being done, over real loopback sockets. Lifeline (with
// [lifeline.Pool.ConfigureServer]) and bare net/http are measured in the
// same process, one trial of each in turn.
package abortlat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/bench/internal/stats"
)

// The cases measured, in order.
const (
	CaseFIN        = "fin"             // GET, client closes (FIN)
	CaseRST        = "rst"             // GET, client resets (SO_LINGER 0)
	CaseUnreadPost = "unread-post-fin" // POST whose body the handler does not read, client closes
	CaseH2Reset    = "h2-reset"        // HTTP/2 request cancelled by the client (RST_STREAM)
)

// Cases lists every case.
var Cases = []string{CaseFIN, CaseRST, CaseUnreadPost, CaseH2Reset}

// The servers compared; series are named server + "/" + case.
const (
	Lifeline = "lifeline"
	NetHTTP  = "nethttp"
)

// ErrUsage is returned for invalid settings.
var ErrUsage = errors.New("abortlat: invalid settings")

// Settings bound a measurement.
type Settings struct {
	// Trials is the number of trials per case and server.
	Trials int
	// Cap is how long a trial waits for the detection before counting it
	// as missed.
	Cap time.Duration
	// MaxMisses stops measuring a server in a case after this many misses
	// (net/http never notices an unread body: each miss costs Cap).
	MaxMisses int
}

// Measure runs the trials and returns one series per server and case.
func Measure(ctx context.Context, s Settings) ([]stats.Series, error) {
	if s.Trials <= 0 || s.Cap <= 0 || s.MaxMisses <= 0 {
		return nil, fmt.Errorf("%w: %+v", ErrUsage, s)
	}
	pool, err := lifeline.NewPool(lifeline.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, fmt.Errorf("abortlat: %w", err)
	}
	targets := []*target{newTarget(Lifeline, s.Cap), newTarget(NetHTTP, s.Cap)}
	targets[0].start(pool.Middleware()(targets[0]), pool.ConfigureServer)
	targets[1].start(targets[1], nil)
	defer func() {
		for _, t := range targets {
			t.stop()
		}
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = pool.Shutdown(sctx)
	}()
	for _, t := range targets {
		if t.err != nil {
			return nil, t.err
		}
	}
	var out []stats.Series
	for _, c := range Cases {
		series := make([]stats.Series, len(targets))
		for i, t := range targets {
			series[i] = stats.Series{Name: t.name + "/" + c, Cap: s.Cap}
		}
		for trial := range s.Trials {
			for k := range targets {
				i := (k + trial) % len(targets) // alternate who goes first
				if series[i].Missed >= s.MaxMisses {
					continue
				}
				d, err := targets[i].trial(ctx, c)
				if err != nil {
					return nil, fmt.Errorf("abortlat: %s/%s: %w", targets[i].name, c, err)
				}
				series[i].Add(d)
			}
		}
		out = append(out, series...)
	}
	return out, nil
}

// target is one server under test and the trials in progress on it.
type target struct {
	name   string
	cap    time.Duration
	srv    *http.Server
	ln     net.Listener
	h2     *http.Client
	err    error
	served sync.WaitGroup

	mu     sync.Mutex
	trials map[int]*pending
	seq    int
}

// pending is one trial: the handler reports its start and the detection.
type pending struct {
	started  chan struct{}
	detected chan time.Time
	quit     chan struct{} // closed when the trial gives up
}

func newTarget(name string, cap time.Duration) *target {
	return &target{name: name, cap: cap, trials: make(map[int]*pending)}
}

func (t *target) start(h http.Handler, configure func(*http.Server)) {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	t.srv = &http.Server{Handler: h, Protocols: &p}
	if configure != nil {
		configure(t.srv)
	}
	t.ln, t.err = net.Listen("tcp", "127.0.0.1:0")
	if t.err != nil {
		return
	}
	t.served.Add(1)
	go func() {
		defer t.served.Done()
		_ = t.srv.Serve(t.ln)
	}()
	var cp http.Protocols
	cp.SetUnencryptedHTTP2(true)
	t.h2 = &http.Client{Transport: &http.Transport{Protocols: &cp}}
}

func (t *target) stop() {
	if t.srv != nil {
		_ = t.srv.Close()
		t.served.Wait()
	}
	if t.h2 != nil {
		t.h2.CloseIdleConnections()
	}
}

// ServeHTTP reports the trial's start, then waits for the request context.
func (t *target) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.URL.Query().Get("id"))
	t.mu.Lock()
	p := t.trials[id]
	t.mu.Unlock()
	if p == nil {
		return
	}
	p.started <- struct{}{}
	select {
	case <-r.Context().Done():
		p.detected <- time.Now()
	case <-p.quit:
	}
}

// trial runs one trial of case c and returns the latency, or -1 if the
// server did not notice within the cap.
func (t *target) trial(ctx context.Context, c string) (time.Duration, error) {
	t.mu.Lock()
	t.seq++
	id := t.seq
	p := &pending{started: make(chan struct{}, 1), detected: make(chan time.Time, 1), quit: make(chan struct{})}
	t.trials[id] = p
	t.mu.Unlock()
	defer func() {
		close(p.quit)
		t.mu.Lock()
		delete(t.trials, id)
		t.mu.Unlock()
	}()
	path := "/?id=" + strconv.Itoa(id)
	var closeClient func()
	switch c {
	case CaseH2Reset:
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, "http://"+t.ln.Addr().String()+path, nil)
		if err != nil {
			return 0, err
		}
		go func() {
			if res, err := t.h2.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
		closeClient = cancel
	default:
		conn, err := net.Dial("tcp", t.ln.Addr().String())
		if err != nil {
			return 0, err
		}
		defer conn.Close()
		req := "GET " + path + " HTTP/1.1\r\nHost: bench\r\n\r\n"
		if c == CaseUnreadPost {
			req = "POST " + path + " HTTP/1.1\r\nHost: bench\r\nContent-Length: 10000\r\n\r\n" + strings.Repeat("b", 1000)
		}
		if _, err := io.WriteString(conn, req); err != nil {
			return 0, err
		}
		closeClient = func() {
			if c == CaseRST {
				_ = conn.(*net.TCPConn).SetLinger(0)
			}
			_ = conn.Close()
		}
	}
	select {
	case <-p.started:
	case <-time.After(10 * time.Second):
		return 0, errors.New("the request did not reach the handler within 10s")
	case <-ctx.Done():
		return 0, context.Cause(ctx)
	}
	closed := time.Now()
	closeClient()
	timer := time.NewTimer(t.cap)
	defer timer.Stop()
	select {
	case at := <-p.detected:
		return at.Sub(closed), nil
	case <-timer.C:
		return -1, nil
	case <-ctx.Done():
		return 0, context.Cause(ctx)
	}
}
