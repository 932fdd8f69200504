package lifeline

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"time"
)

// HTTP/2 delivery.
//
// Over HTTP/2 many streams share one connection, and a stream's answer is
// delivered when the connection's acknowledged byte count has passed the
// point where the frame that ends the stream was written to the socket.
// net/http's HTTP/2 server writes its frames into a buffer it flushes when
// it has nothing more to write, so neither the end of the handler nor the
// stream's context says when that frame reached the socket. Lifeline sees
// it instead: net/http's HTTP/2 server is handed the connection through an
// h2conn, which follows the frame headers written and read (RFC 9113 §4.1:
// a 9-byte header announcing the payload's length, then the payload, which
// is skipped) and, when a write that completed the frame ending a tracked
// stream returns, takes the connection's position from the socket. Over
// TLS the h2conn sits above crypto/tls: the frame is complete in plaintext
// when crypto/tls has written all its records, so the socket's position
// then covers the frame's last record. The position is the socket's
// acknowledged bytes plus its send queue, so it counts everything written
// before, TLS handshake included, as tcpi_bytes_acked does.
//
// net/http passes TLS connections that negotiated "h2" to TLSNextProto["h2"]
// as a *tls.Conn, which it then uses as is. Its HTTP/2 server also takes
// connections already past the client preface under the key
// "unencrypted_http2", wrapped so that any net.Conn can be passed (the
// handoff net/http uses for h2c); followHTTP2 puts both entries behind
// functions that read the preface themselves (TLS) and hand the connection
// over as an h2conn.

const (
	// nextProtoUnencryptedHTTP2 is the TLSNextProto key net/http uses to
	// hand an HTTP/2 connection past its preface to its HTTP/2 server.
	nextProtoUnencryptedHTTP2 = "unencrypted_http2"
	// h2Preface is the client connection preface (RFC 9113 §3.4).
	h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	// h2PrefaceTimeout bounds the wait for it, as net/http's own server
	// does.
	h2PrefaceTimeout = 10 * time.Second

	frameData         = 0x0
	frameHeaders      = 0x1
	frameRSTStream    = 0x3
	frameContinuation = 0x9
	flagEndStream     = 0x1
	flagEndHeaders    = 0x4
)

// followHTTP2 makes srv's HTTP/2 server, over TLS and h2c, talk through an
// h2conn. It changes nothing when srv does not use net/http's own HTTP/2
// server (no "unencrypted_http2" entry). It is called once, from the first
// connection's ConnContext: net/http sets TLSNextProto up before it serves,
// and reads it for a connection only after ConnContext returned.
func followHTTP2(srv *http.Server) {
	unenc := srv.TLSNextProto[nextProtoUnencryptedHTTP2]
	if unenc == nil {
		return
	}
	if h2 := srv.TLSNextProto["h2"]; h2 != nil {
		srv.TLSNextProto["h2"] = func(hs *http.Server, c *tls.Conn, h http.Handler) {
			serveH2TLS(hs, c, h, h2, unenc)
		}
	}
	srv.TLSNextProto[nextProtoUnencryptedHTTP2] = func(hs *http.Server, c *tls.Conn, h http.Handler) {
		serveH2C(hs, c, h, unenc)
	}
}

type nextProtoFunc = func(*http.Server, *tls.Conn, http.Handler)

// serveH2TLS serves an HTTP/2 connection over TLS through an h2conn: it
// reads the client preface, which the HTTP/2 server then does not expect,
// and hands the connection over as unencrypted (the h2conn still reports
// the TLS state, so requests carry it and HTTP/2's TLS rules apply). A
// connection the pool does not watch is served as before.
func serveH2TLS(hs *http.Server, c *tls.Conn, h http.Handler, h2, unenc nextProtoFunc) {
	cw := baseWatch(h)
	if cw == nil {
		h2(hs, c, h)
		return
	}
	var pre [len(h2Preface)]byte
	_ = c.SetReadDeadline(time.Now().Add(h2PrefaceTimeout))
	_, err := io.ReadFull(c, pre[:])
	_ = c.SetReadDeadline(time.Time{})
	if err != nil || string(pre[:]) != h2Preface {
		// What net/http's server does with a bad preface: close.
		_ = c.Close()
		return
	}
	hc := &h2tlsConn{h2conn{Conn: c, cw: cw}}
	cw.h2.Store(&hc.h2conn)
	unenc(hs, handoff(hc), h)
}

// serveH2C serves an h2c connection, past its preface, through an h2conn.
func serveH2C(hs *http.Server, c *tls.Conn, h http.Handler, unenc nextProtoFunc) {
	cw := baseWatch(h)
	u, ok := c.NetConn().(interface{ UnencryptedNetConn() net.Conn })
	if cw == nil || !ok {
		unenc(hs, c, h)
		return
	}
	hc := &h2conn{Conn: u.UnencryptedNetConn(), cw: cw}
	cw.h2.Store(hc)
	unenc(hs, handoff(hc), h)
}

// baseWatch returns the watch of the connection net/http hands over with h,
// which carries the connection's base context (ConnContext's).
func baseWatch(h http.Handler) *connWatch {
	bc, ok := h.(interface{ BaseContext() context.Context })
	if !ok {
		return nil
	}
	return connWatchFrom(bc.BaseContext())
}

// unencryptedHandoff carries a net.Conn through TLSNextProto, whose
// functions take a *tls.Conn: the HTTP/2 server takes the connection from
// its UnencryptedNetConn method. Its other methods are never called.
type unencryptedHandoff struct {
	net.Conn // nil
	conn     net.Conn
}

// UnencryptedNetConn returns the connection handed over.
func (u unencryptedHandoff) UnencryptedNetConn() net.Conn { return u.conn }

func handoff(c net.Conn) *tls.Conn {
	return tls.Client(unencryptedHandoff{conn: c}, nil)
}

// h2wrapped is an h2conn, as net/http's HTTP/2 server passes it to the
// ConnState hook.
type h2wrapped interface{ wrapped() net.Conn }

// h2conn is the connection net/http's HTTP/2 server talks through: it
// follows the frames written (the server's, by one writer at a time) and
// read (the client's, by one reader), and tells the watch when a stream it
// tracks ends (see connWatch.h2Ended) or is reset (connWatch.h2Cut).
type h2conn struct {
	net.Conn // net/http's connection: a *tls.Conn, or the TCP connection for h2c
	cw       *connWatch

	out    frameScan // written frames; the writer's
	ending uint32    // the writer's: a stream whose HEADERS with END_STREAM waits for its last CONTINUATION
	in     frameScan // read frames; the reader's
}

// h2tlsConn is an h2conn over TLS: it reports the TLS state, so that the
// HTTP/2 server fills Request.TLS and applies HTTP/2's TLS requirements.
type h2tlsConn struct{ h2conn }

// ConnectionState returns the TLS connection's state.
func (c *h2tlsConn) ConnectionState() tls.ConnectionState {
	return c.Conn.(*tls.Conn).ConnectionState()
}

func (c *h2conn) wrapped() net.Conn { return c.Conn }

// Write writes p, then follows the frames it completed.
func (c *h2conn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.wrote(p[:n])
	return n, err
}

// wrote follows the frames in p, just written. A stream ends with the
// frame that carries END_STREAM (DATA, or HEADERS with its CONTINUATIONs);
// a RST_STREAM before that cuts it. The position is asked at most once per
// write, and only for a stream a delivery waits for.
func (c *h2conn) wrote(p []byte) {
	var (
		pos       int64
		ok, asked bool
	)
	for len(p) > 0 {
		var (
			f    frameHeader
			done bool
		)
		p, f, done = c.out.next(p)
		if !done || f.stream == 0 {
			continue
		}
		end := false
		switch {
		case f.typ == frameRSTStream:
			if c.cw.h2waits.Load() > 0 {
				c.cw.h2Cut(f.stream, false)
			}
		case f.typ == frameHeaders && f.flags&flagEndStream != 0 && f.flags&flagEndHeaders == 0:
			c.ending = f.stream
		case f.typ == frameHeaders || f.typ == frameData:
			end = f.flags&flagEndStream != 0
		case f.typ == frameContinuation && f.stream == c.ending && f.flags&flagEndHeaders != 0:
			c.ending, end = 0, true
		}
		if end && c.cw.h2waits.Load() > 0 {
			c.cw.h2Ended(f.stream, &pos, &ok, &asked)
		}
	}
}

// Read reads into p, then follows the frames read: a client's RST_STREAM
// cuts a stream that had not ended.
func (c *h2conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	for rest := p[:n]; len(rest) > 0; {
		var (
			f    frameHeader
			done bool
		)
		rest, f, done = c.in.next(rest)
		if done && f.typ == frameRSTStream && f.stream != 0 && c.cw.h2dl.Load() > 0 {
			c.cw.h2Cut(f.stream, true)
		}
	}
	return n, err
}

// frameHeader is what frameScan keeps of a frame (RFC 9113 §4.1).
type frameHeader struct {
	length uint32
	typ    uint8
	flags  uint8
	stream uint32
}

// frameScan follows the frames of one direction of an HTTP/2 connection,
// from a frame boundary: it collects each 9-byte header and skips the
// payload it announces.
type frameScan struct {
	hdr  [9]byte
	n    int // header bytes collected
	cur  frameHeader
	left uint32 // payload bytes of cur still to pass
	body bool   // passing cur's payload
}

// next consumes p up to the end of the next complete frame and returns the
// rest and that frame (done), or consumes all of p (not done).
func (s *frameScan) next(p []byte) (rest []byte, f frameHeader, done bool) {
	if !s.body {
		h := p
		if s.n > 0 || len(p) < len(s.hdr) {
			// A header split between reads: collect it in hdr.
			k := copy(s.hdr[s.n:], p)
			s.n += k
			p = p[k:]
			if s.n < len(s.hdr) {
				return p, frameHeader{}, false
			}
			s.n, h = 0, s.hdr[:]
		} else {
			p = p[len(s.hdr):] // the usual case: read in place
		}
		s.cur = frameHeader{
			length: uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2]),
			typ:    h[3],
			flags:  h[4],
			stream: binary.BigEndian.Uint32(h[5:9]) & 0x7fffffff,
		}
		s.left, s.body = s.cur.length, true
	}
	k := min(uint32(len(p)), s.left)
	p = p[k:]
	s.left -= k
	if s.left > 0 {
		return p, frameHeader{}, false
	}
	s.body = false
	return p, s.cur, true
}
