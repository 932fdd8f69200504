package lifeline_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/cstest"
	"github.com/lifeline-go/lifeline/output"
)

// TestFinish: right after Finish, while the run keeps working, the client
// holds the complete body with an exact Content-Length; later output is
// discarded; the status is what it was at Finish.
func TestFinish(t *testing.T) {
	cstest.Run(t, func(t *testing.T, m cstest.Mode) {
		p := newPool(t)
		release, done := make(chan struct{}), make(chan string, 1)
		// Over the 4 KiB base buffer, so the handler buffers it all itself
		// (ob_start), as the seed's recipe does: Content-Length is exact for
		// any size, where net/http alone sets it only under 2 KiB.
		body := strings.Repeat("We'll email you as soon as this is done. ", 2000)
		h := handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn := mustRun(t, r)
			rn.Output().Start(nil, 0, output.StdFlags)
			io.WriteString(w, body)
			if err := rn.Finish(); err != nil {
				t.Errorf("Finish: %v", err)
			}
			n, err := io.WriteString(w, "discarded")
			<-release
			done <- fmt.Sprint(rn.Phase(), " ", rn.Status(), " ", n, " ", err)
		})
		srv := cstest.Start(t, m, p.Middleware()(h), p.ConfigureServer)
		res, err := srv.Client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || string(got) != body {
			t.Fatalf("body: %d bytes, err %v; want the %d bytes written before Finish", len(got), err, len(body))
		}
		if res.ContentLength != int64(len(body)) {
			t.Errorf("Content-Length = %d, want %d", res.ContentLength, len(body))
		}
		if act := p.Active(); len(act) != 1 || act[0].Phase != lifeline.PhaseFinished {
			t.Errorf("Active() = %+v, want one finished run", act)
		}
		close(release)
		if got := <-done; got != "finished normal 9 <nil>" {
			t.Errorf("after Finish: %s", got)
		}
	})
}

// TestFinishKeepsConnectionReusable: an early-finished HTTP/1.1 response
// needs no Connection: close; the next request on the same connection is
// answered at once while the first run is still working.
func TestFinishKeepsConnectionReusable(t *testing.T) {
	p := newPool(t)
	release := make(chan struct{})
	h := handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "answer "+r.URL.Path)
		if r.URL.Path == "/slow" {
			mustRun(t, r).Finish()
			<-release
		}
	})
	srv := cstest.Start(t, cstest.H1, p.Middleware()(h), p.ConfigureServer)
	defer close(release)
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for _, path := range []string{"/slow", "/next"} {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", path)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(b) != "answer "+path || res.Close {
			t.Errorf("%s: body %q, close %v", path, b, res.Close)
		}
	}
}

// TestFinishAfterHijack returns an error wrapping http.ErrNotSupported;
// Hijack works on HTTP/1 and fails on HTTP/2 (STYLE B6.4).
func TestHijack(t *testing.T) {
	cstest.Run(t, func(t *testing.T, m cstest.Mode) {
		p := newPool(t)
		errc := make(chan error, 1)
		h := handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn := mustRun(t, r)
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				errc <- err
				return
			}
			brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
			brw.Flush()
			c.Close()
			if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrHijacked) {
				t.Errorf("Write after Hijack: %v", err)
			}
			errc <- rn.Finish()
		})
		srv := cstest.Start(t, m, p.Middleware()(h), p.ConfigureServer)
		res, err := srv.Client.Get(srv.URL)
		if err == nil {
			res.Body.Close()
		}
		err = <-errc
		if m == cstest.H1 && res != nil && res.StatusCode != 200 {
			t.Errorf("hijacked response: %v", res.Status)
		}
		if !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("%s: err = %v, want one wrapping http.ErrNotSupported", m, err)
		}
	})
}

// TestResponseController: Flush reaches the client mid-run; deadlines reach
// the real connection through the hand-off.
func TestResponseController(t *testing.T) {
	cstest.Run(t, func(t *testing.T, m cstest.Mode) {
		p := newPool(t)
		next := make(chan struct{})
		h := handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Errorf("SetWriteDeadline: %v", err)
			}
			io.WriteString(w, "first\n")
			if err := rc.Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			<-next
			io.WriteString(w, "second\n")
		})
		srv := cstest.Start(t, m, p.Middleware()(h), p.ConfigureServer)
		res, err := srv.Client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		br := bufio.NewReader(res.Body)
		line, err := br.ReadString('\n')
		if line != "first\n" {
			t.Fatalf("first line %q, %v: Flush did not reach the client", line, err)
		}
		close(next)
		rest, _ := io.ReadAll(br)
		if string(rest) != "second\n" {
			t.Errorf("rest = %q", rest)
		}
	})
}

// TestReadFrom keeps Write's semantics (STYLE B6.9): buffered, counted,
// terminated like Write.
func TestReadFrom(t *testing.T) {
	p := newPool(t)
	h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(w, strings.NewReader(strings.Repeat("z", 100000)))
		if n != 100000 || err != nil {
			t.Errorf("io.Copy = %d, %v", n, err)
		}
	}))
	rec := serve(h, "GET", "/")
	if rec.Body.Len() != 100000 {
		t.Errorf("body %d bytes", rec.Body.Len())
	}
	waitFor(5*time.Second, func() bool { return len(p.Recent()) == 1 })
	if r := p.Recent(); len(r) != 1 || r[0].BytesSent != 100000 {
		t.Errorf("Recent() = %+v, want 100000 bytes sent", r)
	}
}

// TestHeadersSentError: changing the status after the header went out is
// reported with the place the output started, never dropped silently.
func TestHeadersSentError(t *testing.T) {
	p := newPool(t, lifeline.WithOutputBuffering(0))
	h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn := mustRun(t, r)
		io.WriteString(w, "x") // line that sends the header: no base buffer
		err := rn.Output().WriteHeader(http.StatusTeapot)
		var hs interface{ Error() string }
		hs = err
		if err == nil || !strings.Contains(hs.Error(), "finish_test.go:") {
			t.Errorf("WriteHeader after output: %v, want a HeadersSentError naming finish_test.go", err)
		}
	}))
	if rec := serve(h, "GET", "/"); rec.Code != 200 {
		t.Errorf("code = %d", rec.Code)
	}
}
