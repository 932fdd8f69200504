package reliability

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// action is what a storm client does with its request.
type action uint8

const (
	actFinish     action = iota // send, read the whole response
	actStall                    // send, read the header, stop reading for a while, then read the rest
	actLeaveFIN                 // send, leave while the response is open: shutdown(SHUT_WR), then drain
	actLeaveRST                 // send, leave while the response is open: close with SO_LINGER 0
	actPartialFIN               // send part of the request, then close: no run may start
	actPartialRST               // send part of the request, then reset: no run may start
	numActions
)

func (a action) String() string {
	return [...]string{"finish", "stall", "leave-fin", "leave-rst", "partial-fin", "partial-rst"}[a]
}

// leaves reports whether the client leaves before its response is complete.
func (a action) leaves() bool { return a == actLeaveFIN || a == actLeaveRST }

// partial reports whether the client never sends its whole request.
func (a action) partial() bool { return a == actPartialFIN || a == actPartialRST }

// call is one storm request and what its client does.
type call struct {
	tag    uint64 // sent as X-Storm-Tag
	method string
	target string // request target: path and query
	header http.Header
	body   []byte
	act    action
	stall  time.Duration // actStall: how long the client stops reading
	// leaveAfter is how long a leaving client waits, once its run has
	// started (or, without a start signal, once the request is sent),
	// before it leaves; it reads whatever arrives meanwhile.
	leaveAfter time.Duration
}

// reply is what a client saw.
type reply struct {
	resp    *http.Response // nil if no response header arrived
	body    []byte         // decoded as sent (no content decoding)
	bodyErr error          // error reading the body: io.ErrUnexpectedEOF for a truncated one
	err     error          // error before a response
	latency time.Duration
	started bool      // the start signal came (leaving clients with a signal)
	leftAt  time.Time // when a leaving client closed or reset
}

// clientConn is one HTTP/1.1 connection of a storm worker, reused across
// calls while the server keeps it open.
type clientConn struct {
	c  *net.TCPConn
	br *bufio.Reader
}

// dialer dials the server; started, when not nil, blocks until the run of a
// tag has started or d passed (the in-process server's start signal).
type dialer struct {
	addr    string
	started func(tag uint64, d time.Duration) bool
	bg      sync.WaitGroup // half-closed connections being drained
}

func (d *dialer) dial() (*clientConn, error) {
	c, err := net.DialTimeout("tcp", d.addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	return &clientConn{c: tc, br: bufio.NewReaderSize(tc, 16<<10)}, nil
}

// requestBytes renders c as an HTTP/1.1 request.
func (c *call) requestBytes(host string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nX-Storm-Tag: %d\r\n", c.method, c.target, host, c.tag)
	for k, vs := range c.header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	if c.body != nil || c.method == http.MethodPost {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(c.body))
	}
	b.WriteString("\r\n")
	b.Write(c.body)
	return b.Bytes()
}

// do performs c on *cc (dialing when nil) and returns what the client saw.
// *cc is left open for reuse only after a complete keep-alive response.
func (d *dialer) do(cc **clientConn, c *call) (rep reply) {
	start := time.Now()
	defer func() { rep.latency = time.Since(start) }()
	if *cc == nil || c.act != actFinish && c.act != actStall {
		if *cc != nil {
			(*cc).c.Close()
		}
		conn, err := d.dial()
		if err != nil {
			*cc = nil
			rep.err = err
			return rep
		}
		*cc = conn
	}
	conn := *cc
	req := c.requestBytes(d.addr)
	if c.act.partial() {
		*cc = nil
		// Cut inside the header block: a run starts once the header is
		// complete, body or not.
		end := bytes.Index(req, []byte("\r\n\r\n")) + 3
		cut := 1 + int(c.tag)%(end-1)
		_, _ = conn.c.Write(req[:cut])
		if c.act == actPartialRST {
			_ = conn.c.SetLinger(0)
		} else {
			_ = conn.c.CloseWrite()
			drain(conn, time.Second)
		}
		conn.c.Close()
		return rep
	}
	_ = conn.c.SetDeadline(time.Now().Add(2 * time.Minute))
	if _, err := conn.c.Write(req); err != nil {
		conn.c.Close()
		*cc = nil
		rep.err = err
		return rep
	}
	if c.act.leaves() {
		*cc = nil
		if d.started != nil {
			rep.started = d.started(c.tag, 30*time.Second)
		}
		// Read what comes for leaveAfter, then leave.
		_ = conn.c.SetReadDeadline(time.Now().Add(c.leaveAfter))
		_, _ = io.Copy(io.Discard, conn.br)
		rep.leftAt = time.Now()
		if c.act == actLeaveRST {
			_ = conn.c.SetLinger(0)
			conn.c.Close()
			return rep
		}
		// FIN, then read until the server closes too, off the worker: a
		// run that ignores the abort may go on for a while.
		_ = conn.c.CloseWrite()
		d.bg.Go(func() {
			drain(conn, 30*time.Second)
			conn.c.Close()
		})
		return rep
	}
	resp, err := http.ReadResponse(conn.br, &http.Request{Method: c.method})
	if err != nil {
		conn.c.Close()
		*cc = nil
		rep.err = err
		return rep
	}
	rep.resp = resp
	if c.act == actStall && c.stall > 0 {
		time.Sleep(c.stall)
	}
	rep.body, rep.bodyErr = io.ReadAll(resp.Body)
	resp.Body.Close()
	if rep.bodyErr != nil || resp.Close {
		conn.c.Close()
		*cc = nil
	}
	return rep
}

// drain reads and discards until EOF, an error, or d.
func drain(conn *clientConn, d time.Duration) {
	_ = conn.c.SetReadDeadline(time.Now().Add(d))
	_, _ = io.Copy(io.Discard, conn.br)
}

// truncated reports whether a body read error means the client can tell the
// body is incomplete.
func truncated(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || err != nil && strings.Contains(err.Error(), "connection reset")
}

// atoiHeader returns the header field as an int, or -1.
func atoiHeader(h http.Header, name string) int {
	n, err := strconv.Atoi(h.Get(name))
	if err != nil {
		return -1
	}
	return n
}
