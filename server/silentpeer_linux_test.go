package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/netns"
	"github.com/lifeline-go/lifeline/server"
)

// The seed of issue 4: "If the connection is stopped by network troubles the
// script doesn't know that the client is disconnected." These tests stop the
// network for real: the client sits in a network namespace, and once its
// request is being served every packet in and out of the namespace is
// dropped, so the server gets neither FIN nor RST.

// detection is what a run observed when its context was cancelled.
type detection struct {
	aborted bool
	cause   error
	at      time.Time
}

// probe is a handler that reports when it started and when its run noticed
// the client was gone.
type probe struct {
	started  chan struct{}
	detected chan detection
	once     sync.Once
}

func newProbe() *probe {
	return &probe{started: make(chan struct{}), detected: make(chan detection, 1)}
}

// watch records the moment rn's context is cancelled.
func (p *probe) watch(rn *lifeline.Run) {
	context.AfterFunc(rn.Context(), func() {
		p.detected <- detection{aborted: rn.Aborted(), cause: context.Cause(rn.Context()), at: time.Now()}
	})
}

// silent works without writing a byte until its run is cancelled, or 30s.
func (p *probe) silent() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		p.watch(rn)
		p.once.Do(func() { close(p.started) })
		t := time.NewTimer(30 * time.Second)
		defer t.Stop()
		select {
		case <-rn.Context().Done():
		case <-t.C:
		}
	})
}

// writing streams 16 KiB every 5 ms, flushed, until its run is stopped (its
// next write then terminates it) or 30s.
func (p *probe) writing() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		p.watch(rn)
		chunk := bytes.Repeat([]byte("lifeline "), 16<<10/9)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		end := time.NewTimer(30 * time.Second)
		defer end.Stop()
		rc := http.NewResponseController(w)
		for {
			_, _ = w.Write(chunk)
			_ = rc.Flush()
			p.once.Do(func() { close(p.started) })
			select {
			case <-tick.C:
			case <-end.C:
				return
			}
		}
	})
}

// client sends one request from inside the namespace and reads the response
// until the test ends.
func client(t testing.TB, ns *netns.Pair, url string, h2c bool) {
	t.Helper()
	tr := &http.Transport{DialContext: ns.DialContext}
	if h2c {
		tr = h2cTransport(ns.DialContext)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
		tr.CloseIdleConnections()
	})
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(done)
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}()
}

// TestSilentPeer cuts a client off in the middle of a run and checks that
// the run is aborted, with the right cause, within the configured time.
func TestSilentPeer(t *testing.T) {
	const slack = time.Second
	tests := []struct {
		name      string
		opts      []server.Option
		handler   func(*probe) http.Handler
		h2c       bool
		window    time.Duration
		wantCause error
		wantLog   string // a line the server logs on the way
	}{
		{
			name:      "silent handler, keep-alive",
			opts:      []server.Option{server.WithDeadPeerTimeout(2 * time.Second)},
			handler:   (*probe).silent,
			window:    2 * time.Second,
			wantCause: lifeline.ErrSilentPeer,
		},
		{
			name:      "silent handler, defaults",
			handler:   (*probe).silent,
			window:    server.DefaultDeadPeerTimeout,
			wantCause: lifeline.ErrSilentPeer,
		},
		{
			name:      "writing handler, TCP_USER_TIMEOUT",
			opts:      []server.Option{server.WithDeadPeerTimeout(2 * time.Second)},
			handler:   (*probe).writing,
			window:    2 * time.Second,
			wantCause: lifeline.ErrSilentPeer,
		},
		{
			// Keep-alive left at Go's defaults (15s idle), so that only the
			// HTTP/2 PING can end the connection in time.
			name:      "h2c silent handler, PING",
			opts:      []server.Option{server.WithH2C(true), server.WithDeadPeerTimeout(0), server.WithHTTP2PingTimeout(2 * time.Second)},
			handler:   (*probe).silent,
			h2c:       true,
			window:    2 * time.Second,
			wantCause: lifeline.ErrClientAborted,
			wantLog:   "timeout waiting for PING response",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ns := netns.New(t)
			log, logs := testLogger(t)
			pool := newPool(t, log, lifeline.WithTimeLimit(0))
			pr := newProbe()
			opts := append([]server.Option{
				server.WithAddr(netip.AddrPortFrom(ns.HostAddr, 0).String()),
				server.WithLogger(log),
				server.WithDrainTimeout(time.Second),
			}, tt.opts...)
			srv := start(t, pool, pool.Handler(tt.handler(pr)), opts...)
			client(t, ns, "http://"+srv.addr+"/", tt.h2c)
			select {
			case <-pr.started:
			case <-time.After(10 * time.Second):
				t.Fatal("the request did not reach the handler")
			}
			cut := time.Now()
			if err := ns.Cut(); err != nil {
				t.Fatal(err)
			}
			var d detection
			select {
			case d = <-pr.detected:
			case <-time.After(tt.window + 20*time.Second):
				t.Fatalf("run not aborted %v after the client vanished (window %v)", time.Since(cut), tt.window)
			}
			elapsed := d.at.Sub(cut)
			t.Logf("client vanished; run aborted after %v (window %v), cause: %v", elapsed, tt.window, d.cause)
			if !d.aborted {
				t.Error("rn.Aborted() = false, want true")
			}
			if !errors.Is(d.cause, tt.wantCause) {
				t.Errorf("context.Cause = %v, want %v", d.cause, tt.wantCause)
			}
			if elapsed > tt.window+slack {
				t.Errorf("noticed after %v, want within %v (+%v slack)", elapsed, tt.window, slack)
			}
			if tt.wantLog != "" {
				waitLog(t, logs, tt.wantLog)
			}
		})
	}
}
