package reliability

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestR1HalfCloseNeverFalselyComplete: a client that half-closes its
// connection (shutdown(SHUT_WR), a FIN) after sending its request, as some
// tools and proxies do, is a client that left: its run is aborted and
// terminated at its next output. If it keeps reading, it must be able to
// tell that the body it gets is cut short, as R3 demands of every response
// cut by a limit: a body that ends cleanly with lines missing is falsely
// complete.
func TestR1HalfCloseNeverFalselyComplete(t *testing.T) {
	n := pick(20, 200)
	rp := newReport(t, "R1-halfclose", "R1 abort storm: clients that half-close after their request and keep reading")
	rp.Load("%d GET /stream?lines=200&every=5ms on the in-process server; each client reads the header, sends its FIN 10-30ms later, and reads on", n)
	rp.Check("each run ends Aborted; each client either gets all 200 lines or a body that ends with an error (truncated), never a clean end with lines missing")
	s := startStorm(t, stormOptions{timeLimit: 10 * time.Second})
	outcomes := counter{}
	var fail failures
	for i := range n {
		tag := uint64(i + 1)
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /stream?lines=200&every=5ms HTTP/1.1\r\nHost: x\r\nX-Storm-Tag: %d\r\n\r\n", tag)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			c.Close()
			t.Fatal(err)
		}
		time.Sleep(time.Duration(10+i%20) * time.Millisecond)
		_ = c.(*net.TCPConn).CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		body, rerr := io.ReadAll(resp.Body)
		c.Close()
		lines := strings.Count(string(body), "\n")
		switch {
		case rerr != nil:
			outcomes["truncated (read error)"]++
		case lines == 200:
			outcomes["complete"]++
		default:
			outcomes["clean end with lines missing"]++
			fail.add("request %d: the body ended cleanly after %d of 200 lines: falsely complete", tag, lines)
		}
		s.ledger.waitStarted(tag, time.Second)
	}
	if err := s.stop(); err != nil {
		t.Errorf("drain: %v", err)
	}
	aborted := 0
	for i := range n {
		if e, _ := s.ledger.get(uint64(i + 1)); e.status == 1 {
			aborted++
		}
	}
	rp.Figure("what the clients got", "%v", outcomes)
	rp.Figure("runs ended Aborted", "%d of %d", aborted, n)
	if fail.n() > 0 {
		t.Errorf("%d falsely complete bodies:%s\n"+
			"serve.go: a run terminated because its client left ends with outcomeGone, and the connection side then returns normally, "+
			"so net/http ends the chunked body cleanly; once headers were sent it should abort the stream (http.ErrAbortHandler), as for a time limit",
			fail.n(), fail.String())
	}
}
