package lifelinetest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// How is how a client leaves ([Server.Leave]).
type How int

// The ways to leave.
const (
	// Close closes the client's connection: the server gets a FIN. Over
	// HTTP/2 this ends every stream on the connection.
	Close How = iota + 1
	// Reset aborts the client's connection (SO_LINGER 0): the server gets
	// an RST. Over an in-memory network it closes, as Close does.
	Reset
	// Cancel cancels the request, as a browser's stop button does: over
	// HTTP/2 the stream is reset (RST_STREAM) and the connection stays;
	// over HTTP/1 the connection is closed.
	Cancel
	// Silent drops every packet to and from the client, which then never
	// sends a FIN or an RST, as when a laptop lid closes or a mobile link
	// drops: the server can only notice the silence (package server's
	// dead-peer timeout). It needs [WithSilentClients], and cuts every
	// connection from the namespace, so use it once per server.
	Silent
)

// String returns the name of h, for subtest names.
func (h How) String() string {
	switch h {
	case Close:
		return "close"
	case Reset:
		return "reset"
	case Cancel:
		return "cancel"
	case Silent:
		return "silent"
	}
	return fmt.Sprintf("How(%d)", int(h))
}

type pointKind int

const (
	beforeHeader pointKind = iota + 1
	afterHeader
	afterBytes
	whenClosed
)

// Point is when a client leaves ([Server.Leave]). Make one with
// [BeforeHeader], [AfterHeader], [AfterBytes] or [When].
type Point struct {
	kind pointKind
	n    int64
	ch   <-chan struct{}
}

// BeforeHeader leaves as soon as the request has reached the server (the
// handler is starting), before any of the response is read.
func BeforeHeader() Point { return Point{kind: beforeHeader} }

// AfterHeader leaves once the response's status line and header have
// arrived, before reading any of its body.
func AfterHeader() Point { return Point{kind: afterHeader} }

// AfterBytes leaves once n bytes of the response's body have been read. A
// body that ends before n bytes is reported in [Result.Err].
func AfterBytes(n int64) Point { return Point{kind: afterBytes, n: n} }

// When leaves once ch is closed (a handler under test may close it at the
// moment that matters to it), reading nothing of the response until then.
func When(ch <-chan struct{}) Point { return Point{kind: whenClosed, ch: ch} }

// Leave sends req on a connection of its own and leaves at the point at,
// the way how says, and returns what the client had received by then.
// [Result.Record] then gives the run's final record: its status, cause and
// what it did after the client left. req is addressed to the server as in
// [Server.Do].
//
// Leave returns once the client has left and its own request has returned;
// it waits up to [Pool.Wait] for the point to come and fails the test
// ([testing.T.Errorf], which any goroutine may call) when it does not, or
// when how is [Silent] without [WithSilentClients].
func (s *Server) Leave(req *http.Request, at Point, how How) *Result {
	s.p.tb.Helper()
	req, res := s.prepare(req)
	dial := s.dial
	if how == Silent {
		if s.silent == nil {
			s.p.tb.Errorf("lifelinetest: Leave: %v", fmt.Errorf("%w: Silent needs WithSilentClients", ErrInvalidOption))
			res.Err = ErrInvalidOption
			return res
		}
		dial = s.silent.dial
	}
	var (
		mu    sync.Mutex // guards conn
		conn  net.Conn
		drain bool // the client sent a FIN and reads on
	)
	tr := s.transport(func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dial == nil {
			dial = (&net.Dialer{}).DialContext
		}
		c, err := dial(ctx, network, addr)
		mu.Lock()
		conn = c
		mu.Unlock()
		return c, err
	})
	// An HTTP/2 connection whose stream was reset stays open until the
	// test ends: closing it at once, with data unread, would send an RST
	// that races the stream reset to the server.
	s.p.tb.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	req = req.WithContext(ctx)

	type roundTrip struct {
		resp *http.Response
		err  error
	}
	rtc := make(chan roundTrip, 1)
	go func() {
		resp, err := tr.RoundTrip(req)
		rtc <- roundTrip{resp, err}
	}()

	leave := func() {
		mu.Lock()
		c := conn
		mu.Unlock()
		switch how {
		case Close:
			// A close with unread data in the receive buffer sends an RST,
			// not a FIN: shut the sending side only, and read on.
			if cw, ok := c.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
				drain = true
			} else if c != nil {
				c.Close()
			}
		case Reset:
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			if c != nil {
				c.Close()
			}
		case Cancel:
			cancel()
		case Silent:
			if err := s.silent.cut(); err != nil {
				s.p.tb.Errorf("lifelinetest: Leave: silence the client: %v", err)
			}
		}
	}
	// finish leaves, then ends the client's own request and collects it.
	// returned says the round trip has returned already, with resp.
	finish := func(resp *http.Response, returned bool) *Result {
		collect := func() {
			if !returned {
				resp, returned = (<-rtc).resp, true
			}
		}
		leave()
		if drain {
			// After a FIN, read what the server still sends until it
			// ends the response or closes, so that no RST follows.
			tm := time.AfterFunc(s.p.Wait, cancel)
			collect()
			if resp != nil {
				_, _ = io.Copy(io.Discard, resp.Body)
			}
			tm.Stop()
		}
		cancel() // the client's goroutines stop; a silenced client's FIN is dropped
		collect()
		if resp != nil {
			if res.Code == 0 {
				res.fill(resp)
			}
			resp.Body.Close()
		}
		return res
	}

	switch at.kind {
	case beforeHeader, whenClosed:
		var sig <-chan struct{} = res.t.arrived
		if at.kind == whenClosed {
			sig = at.ch
		}
		if err := s.await(sig, "the leave point"); err != nil {
			s.p.tb.Errorf("lifelinetest: Leave: %v", err)
			res.Err = err
		}
		return finish(nil, false)
	case afterHeader, afterBytes:
		var rt roundTrip
		tm := time.NewTimer(s.p.Wait)
		defer tm.Stop()
		select {
		case rt = <-rtc:
		case <-tm.C:
			rt.err = fmt.Errorf("waited %v for the response header: %w", s.p.Wait, ErrWaitTimeout)
			s.p.tb.Errorf("lifelinetest: Leave: %v", rt.err)
		}
		if rt.err != nil {
			res.Err = rt.err
			return finish(rt.resp, true)
		}
		res.fill(rt.resp)
		if at.kind == afterBytes {
			b := make([]byte, at.n)
			n, err := io.ReadFull(rt.resp.Body, b)
			res.Body = string(b[:n])
			if err != nil {
				res.Err = fmt.Errorf("lifelinetest: Leave: the body ended after %d bytes, before AfterBytes(%d): %w", n, at.n, err)
			}
		}
		return finish(rt.resp, true)
	}
	s.p.tb.Errorf("lifelinetest: Leave: %v", fmt.Errorf("%w: zero Point", ErrInvalidOption))
	res.Err = ErrInvalidOption
	return finish(nil, false)
}
