package conformance

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// side is one of the two servers under comparison, as the client driver
// sees it: where to connect, which path serves a scenario, where the server
// logs its events, and how to wait until it has nothing left to do.
type side struct {
	name     string // "php" or "lifeline"
	version  string
	addr     string
	events   string // the event log
	dir      string // where signal files go
	pathOf   func(sc *scenario) string
	pingPath string
	waitIdle func(ctx context.Context) error
	logs     func() string // the server's logs, for failure messages
}

// client is the one driver both sides get: a scenario's client plan calls
// its methods, and it records what the client saw.
type client struct {
	ctx  context.Context
	side *side
	sc   *scenario
	run  string
	obs  clientObs
}

// clientObs is what the client saw of the scenario's main request.
type clientObs struct {
	resp    *response
	respRun string            // the run whose events resp is measured against; default the scenario's
	reuse   string            // "yes", "closed", "timeout" or "" (not tried)
	reused  time.Time         // when the reuse request was answered
	extra   map[string]string // plan-specific facts
}

// response is one response as read off the wire.
type response struct {
	code    int
	header  http.Header
	body    []byte
	framing string    // "length", "chunked" or "eof"
	end     string    // "ok", "truncated", "timeout", "left"
	done    time.Time // when the body was complete
}

// conn is one raw HTTP/1.1 client connection.
type conn struct {
	cl *client
	tc *net.TCPConn
	br *bufio.Reader
}

// ioTimeout bounds every client read and write.
const ioTimeout = 10 * time.Second

func (cl *client) dial() (*conn, error) { return cl.dialBuffer(0) }

// dialBuffer connects with a receive buffer of rcvbuf bytes set before the
// handshake (so that the window the server sees is small), or the system's
// default when rcvbuf is 0.
func (cl *client) dialBuffer(rcvbuf int) (*conn, error) {
	var d net.Dialer
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			return errors.Join(err, serr)
		}
	}
	c, err := d.DialContext(cl.ctx, "tcp", cl.side.addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", cl.side.name, err)
	}
	tc := c.(*net.TCPConn)
	return &conn{cl: cl, tc: tc, br: bufio.NewReader(tc)}, nil
}

// send writes a GET request for path tagged with run, plus extra header
// lines ("Name: value").
func (c *conn) send(path, run string, extra ...string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n%s: %s\r\n", path, c.cl.side.addr, runHeader, run)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	_ = c.tc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c.tc, b.String()); err != nil {
		return fmt.Errorf("send %s: %w", path, err)
	}
	return nil
}

// head reads the status line and header of the next response.
func (c *conn) head() (*http.Response, error) {
	_ = c.tc.SetReadDeadline(time.Now().Add(ioTimeout))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return nil, fmt.Errorf("read response head: %w", err)
	}
	return resp, nil
}

// readAll reads a whole response and records how it ended.
func (c *conn) readAll() (*response, error) {
	resp, err := c.head()
	if err != nil {
		return nil, err
	}
	rs := newResponse(resp)
	_ = c.tc.SetReadDeadline(time.Now().Add(ioTimeout))
	rs.body, err = io.ReadAll(resp.Body)
	rs.done = time.Now()
	rs.end = endOf(err)
	return rs, nil
}

// readUntil reads the next response's body until marker has arrived; the
// rest of the body is left unread.
func (c *conn) readUntil(marker string) (*response, error) {
	resp, err := c.head()
	if err != nil {
		return nil, err
	}
	rs := newResponse(resp)
	buf := make([]byte, 256)
	_ = c.tc.SetReadDeadline(time.Now().Add(ioTimeout))
	for !bytes.Contains(rs.body, []byte(marker)) {
		n, err := resp.Body.Read(buf)
		rs.body = append(rs.body, buf[:n]...)
		if err != nil {
			rs.done = time.Now()
			rs.end = endOf(err)
			return rs, nil
		}
	}
	rs.end = "left"
	return rs, nil
}

func newResponse(resp *http.Response) *response {
	rs := &response{code: resp.StatusCode, header: resp.Header, framing: "eof"}
	switch {
	case len(resp.TransferEncoding) > 0:
		rs.framing = "chunked"
	case resp.ContentLength >= 0:
		rs.framing = "length"
	}
	return rs
}

// endOf names how reading a body ended.
func endOf(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "truncated"
}

// closeFIN closes the connection normally: the server sees a FIN.
func (c *conn) closeFIN() error { return c.tc.Close() }

// reset closes the connection with SO_LINGER 0: the server sees a RST.
func (c *conn) reset() error {
	if err := c.tc.SetLinger(0); err != nil {
		return fmt.Errorf("SetLinger(0): %w", err)
	}
	return c.tc.Close()
}

// signal tells the script waiting in wait_signal(name) to go on.
func (cl *client) signal(run, name string) error {
	f := signalFile(cl.side.dir, run, name)
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		return fmt.Errorf("signal %s: %w", name, err)
	}
	return nil
}

// signalFile is the file that signals name to run (the same name in
// _lib.php's wait_signal).
func signalFile(dir, run, name string) string {
	return filepath.Join(dir, "signal-"+strings.ReplaceAll(run, "/", "_")+"-"+name)
}

// waitFor waits until the server logged k=v for run.
func (cl *client) waitFor(run, k, v string) error {
	_, err := waitEvent(cl.ctx, cl.side.events, run, k, v)
	return err
}

// tryReuse sends the ping request on c after a complete response and
// records whether and when it was answered.
func (cl *client) tryReuse(c *conn) {
	cl.obs.reuse, cl.obs.reused = c.reuse(cl.obs.resp, cl.run+"-ping")
}

// reuse sends the ping request on c after rs, if rs was complete, and says
// whether it was answered ("yes", with when), or the connection was closed,
// or the answer did not come in time; "" when rs was not complete.
func (c *conn) reuse(rs *response, run string) (string, time.Time) {
	if rs == nil || rs.end != "ok" {
		return "", time.Time{}
	}
	if err := c.send(c.cl.side.pingPath, run); err != nil {
		return "closed", time.Time{}
	}
	ping, err := c.readAll()
	switch {
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout", time.Time{}
	case err != nil || ping.end != "ok" || string(ping.body) != "pong":
		return "closed", time.Time{}
	}
	return "yes", ping.done
}

// decoded returns the response body with its content coding undone.
func (rs *response) decoded() ([]byte, error) {
	if rs.header.Get("Content-Encoding") != "gzip" {
		return rs.body, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(rs.body))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return io.ReadAll(zr)
}

// The client plans used by most scenarios.

// planRead sends the request, reads the whole response, then checks that
// the connection can carry another request.
func planRead(extra ...string) func(cl *client) error {
	return func(cl *client) error {
		c, err := cl.dial()
		if err != nil {
			return err
		}
		defer c.tc.Close()
		if err := c.send(cl.side.pathOf(cl.sc), cl.run, extra...); err != nil {
			return err
		}
		if cl.obs.resp, err = c.readAll(); err != nil {
			return err
		}
		cl.tryReuse(c)
		return nil
	}
}

// planLeave sends the request, reads until the script's "ready", waits
// until the script waits for signal "leave", then leaves: a FIN, or a RST
// when reset is set. Then it signals "leave".
func planLeave(reset bool) func(cl *client) error {
	return func(cl *client) error {
		c, err := cl.dial()
		if err != nil {
			return err
		}
		defer c.tc.Close()
		if err := c.send(cl.side.pathOf(cl.sc), cl.run); err != nil {
			return err
		}
		if cl.obs.resp, err = c.readUntil("ready\n"); err != nil {
			return err
		}
		if err := cl.waitFor(cl.run, "wait", "leave"); err != nil {
			return err
		}
		if reset {
			err = c.reset()
		} else {
			err = c.closeFIN()
		}
		if err != nil {
			return err
		}
		return cl.signal(cl.run, "leave")
	}
}

// planStopReading sends the request and reads nothing until the script has
// logged mark=written (all its output is gone: the server absorbed it) or
// pause has passed (the script is blocked writing), then reads everything.
// Which of the two happened is the fact written-before-read.
func planStopReading(pause time.Duration) func(cl *client) error {
	return func(cl *client) error {
		// A small receive buffer, so that the kernel cannot absorb the body.
		c, err := cl.dialBuffer(4096)
		if err != nil {
			return err
		}
		defer c.tc.Close()
		if err := c.send(cl.side.pathOf(cl.sc), cl.run); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(cl.ctx, pause)
		_, werr := waitEvent(ctx, cl.side.events, cl.run, "mark", "written")
		cancel()
		cl.obs.extra = map[string]string{"written-before-read": fmt.Sprint(werr == nil)}
		if cl.obs.resp, err = c.readAll(); err != nil {
			return err
		}
		cl.tryReuse(c)
		return nil
	}
}
