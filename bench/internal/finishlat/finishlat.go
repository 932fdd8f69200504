// Package finishlat measures the early answer (P4 of the suite): the time
// from the handler's decision to answer to the client holding the complete
// body, and whether the HTTP/1.1 connection is reused for the next request.
//
// Lifeline answers with [lifeline.Run.Finish], plain or gzip-compressed by
// package compress. The baseline is the seed's recipe done with bare
// net/http: set Content-Length and "Connection: close", write, flush, and
// keep working in the handler (for gzip the recipe compresses the body
// itself with compress/gzip first). Both servers then work for the same
// time after answering. One trial of each is run in turn.
package finishlat

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/bench/internal/stats"
	"github.com/lifeline-go/lifeline/compress"
)

// Variants and servers; series are named server + "/" + variant.
const (
	Plain    = "plain"
	Gzip     = "gzip"
	Lifeline = "lifeline"
	Recipe   = "recipe"
)

// Variants lists the response variants, Servers the servers compared.
var (
	Variants = []string{Plain, Gzip}
	Servers  = []string{Lifeline, Recipe}
)

// ErrUsage is returned for invalid settings.
var ErrUsage = errors.New("finishlat: invalid settings")

// Settings bound a measurement.
type Settings struct {
	// Requests is the number of sequential requests per server and variant.
	Requests int
	// Work is how long each handler keeps working after answering.
	Work time.Duration
	// BodySize is the size of the HTML body; keep it under Lifeline's base
	// output buffer (4096) so the plain answer has a Content-Length.
	BodySize int
}

// Reuse counts connection reuse over one server's sequential requests.
type Reuse struct {
	Requests int // requests made
	Reused   int // requests sent on a connection that had served one before
}

// Fraction returns the share of requests after the first that reused a
// connection: 1 when a single connection served them all.
func (r Reuse) Fraction() float64 {
	if r.Requests < 2 {
		return 0
	}
	return float64(r.Reused) / float64(r.Requests-1)
}

// Result holds the latency series and the reuse counts, both keyed by
// server + "/" + variant.
type Result struct {
	Series []stats.Series
	Reuse  map[string]Reuse
}

// Body returns the deterministic HTML body of n bytes the handlers send.
func Body(n int) []byte {
	var b bytes.Buffer
	b.WriteString("<!doctype html><html><head><title>Thanks</title></head><body>\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "<p class=\"row\">We'll email you as soon as order %d is done.</p>\n", 1000+i*7)
	}
	return b.Bytes()[:n]
}

// Measure runs the trials.
func Measure(ctx context.Context, s Settings) (Result, error) {
	if s.Requests < 2 || s.Work < 0 || s.BodySize <= 0 {
		return Result{}, fmt.Errorf("%w: %+v", ErrUsage, s)
	}
	body := Body(s.BodySize)
	log := slog.New(slog.DiscardHandler)
	pool, err := lifeline.NewPool(lifeline.WithLogger(log))
	if err != nil {
		return Result{}, fmt.Errorf("finishlat: %w", err)
	}
	comp, err := compress.New(compress.WithEncodings("gzip"), compress.WithLogger(log))
	if err != nil {
		return Result{}, fmt.Errorf("finishlat: %w", err)
	}
	reg := &registry{pending: make(map[int]chan time.Time)}
	lmux := lifelineMux(pool, comp, body, reg, s.Work)
	rmux := recipeMux(body, reg, s.Work)
	lsrv, err := listen(lmux, pool.ConfigureServer)
	if err != nil {
		return Result{}, err
	}
	rsrv, err := listen(rmux, nil)
	if err != nil {
		lsrv.close(context.Background())
		return Result{}, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), s.Work+10*time.Second)
		defer cancel()
		lsrv.close(sctx)
		rsrv.close(sctx)
		_ = pool.Shutdown(sctx)
	}()
	servers := map[string]*server{Lifeline: lsrv, Recipe: rsrv}
	res := Result{Reuse: make(map[string]Reuse)}
	for _, v := range Variants {
		series := make([]stats.Series, len(Servers))
		reuse := make([]Reuse, len(Servers))
		for i, name := range Servers {
			series[i].Name = name + "/" + v
			servers[name].client.CloseIdleConnections() // each variant starts on a new connection
		}
		for trial := range s.Requests {
			for k := range Servers {
				i := (k + trial) % len(Servers)
				d, reused, err := servers[Servers[i]].trial(ctx, reg, v, body, trial == 0)
				if err != nil {
					return res, fmt.Errorf("finishlat: %s/%s: %w", Servers[i], v, err)
				}
				series[i].Add(d)
				reuse[i].Requests++
				if reused {
					reuse[i].Reused++
				}
			}
		}
		for i, name := range Servers {
			res.Reuse[name+"/"+v] = reuse[i]
		}
		res.Series = append(res.Series, series...)
	}
	return res, nil
}

// lifelineMux serves the page through Lifeline: write, Finish, work.
func lifelineMux(pool *lifeline.Pool, comp *compress.Compressor, body []byte, reg *registry, work time.Duration) http.Handler {
	life := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(body)
		t0 := time.Now()
		_ = rn.Finish()
		reg.report(r, t0)
		time.Sleep(work)
	})
	mux := http.NewServeMux()
	mux.Handle("/"+Plain, pool.Middleware()(life))
	mux.Handle("/"+Gzip, pool.Middleware()(comp.Handler(life)))
	return mux
}

// recipeMux serves the page with the seed's recipe on bare net/http:
// Content-Length, Connection: close, write, flush, work.
func recipeMux(body []byte, reg *registry, work time.Duration) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/"+Plain, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		h.Set("Connection", "close")
		_, _ = w.Write(body)
		t0 := time.Now()
		_ = http.NewResponseController(w).Flush()
		reg.report(r, t0)
		time.Sleep(work)
	})
	mux.HandleFunc("/"+Gzip, func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, compress.DefaultGzipLevel)
		_, _ = zw.Write(body)
		_ = zw.Close()
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Encoding", "gzip")
		h.Set("Content-Length", strconv.Itoa(buf.Len()))
		h.Set("Connection", "close")
		_, _ = w.Write(buf.Bytes())
		_ = http.NewResponseController(w).Flush()
		reg.report(r, t0)
		time.Sleep(work)
	})
	return mux
}

// registry hands each trial's answer time from the handler to the client.
type registry struct {
	mu      sync.Mutex
	seq     int
	pending map[int]chan time.Time
}

func (g *registry) add() (int, chan time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.seq++
	ch := make(chan time.Time, 1)
	g.pending[g.seq] = ch
	return g.seq, ch
}

func (g *registry) remove(id int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.pending, id)
}

func (g *registry) report(r *http.Request, t0 time.Time) {
	id, _ := strconv.Atoi(r.URL.Query().Get("id"))
	g.mu.Lock()
	ch := g.pending[id]
	g.mu.Unlock()
	if ch != nil {
		ch <- t0
	}
}

// server is one HTTP/1.1 server on loopback with its client.
type server struct {
	base   string
	srv    *http.Server
	client *http.Client
	done   chan struct{}
}

func listen(h http.Handler, configure func(*http.Server)) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("finishlat: %w", err)
	}
	s := &server{
		base:   "http://" + ln.Addr().String(),
		srv:    &http.Server{Handler: h},
		client: &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}},
		done:   make(chan struct{}),
	}
	if configure != nil {
		configure(s.srv)
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

func (s *server) close(ctx context.Context) {
	s.client.CloseIdleConnections()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	<-s.done
}

// trial makes one request and returns the time from the handler's answer
// to the client holding the whole body, and whether the connection was
// reused. With check, it also verifies the body.
func (s *server) trial(ctx context.Context, reg *registry, variant string, body []byte, check bool) (time.Duration, bool, error) {
	id, answered := reg.add()
	defer reg.remove(id)
	var reused bool
	trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) { reused = ci.Reused }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, s.base+"/"+variant+"?id="+strconv.Itoa(id), nil)
	if err != nil {
		return 0, false, err
	}
	if variant == Gzip {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	res, err := s.client.Do(req)
	if err != nil {
		return 0, false, err
	}
	got, err := io.ReadAll(res.Body)
	t1 := time.Now()
	res.Body.Close()
	if err != nil {
		return 0, false, err
	}
	var t0 time.Time
	select {
	case t0 = <-answered:
	case <-time.After(5 * time.Second):
		return 0, false, errors.New("the handler never reported its answer")
	}
	if check {
		if err := verify(res, got, body, variant); err != nil {
			return 0, false, err
		}
	}
	return t1.Sub(t0), reused, nil
}

// verify checks that the response is complete and, for gzip, compressed.
func verify(res *http.Response, got, body []byte, variant string) error {
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", res.Status)
	}
	if res.ContentLength != int64(len(got)) {
		return fmt.Errorf("Content-Length %d, body %d bytes", res.ContentLength, len(got))
	}
	if variant == Gzip {
		if ce := res.Header.Get("Content-Encoding"); ce != "gzip" {
			return fmt.Errorf("Content-Encoding %q, want gzip", ce)
		}
		zr, err := gzip.NewReader(bytes.NewReader(got))
		if err != nil {
			return fmt.Errorf("gzip body: %w", err)
		}
		if got, err = io.ReadAll(zr); err != nil {
			return fmt.Errorf("gzip body: %w", err)
		}
	}
	if !bytes.Equal(got, body) {
		return fmt.Errorf("body differs: got %d bytes starting %q", len(got), strings.TrimSpace(string(got[:min(len(got), 40)])))
	}
	return nil
}
