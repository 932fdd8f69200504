package lifeline_test

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/lifeline-go/lifeline/compress"
	"github.com/lifeline-go/lifeline/idempotency"
	idemstore "github.com/lifeline-go/lifeline/idempotency/memstore"
	"github.com/lifeline-go/lifeline/internal/cstest"
	"github.com/lifeline-go/lifeline/session"
	sessstore "github.com/lifeline-go/lifeline/session/memstore"
)

// TestWrapperStacking runs every wrapper Lifeline inserts, stacked in the
// order a service uses them (run → compress → session → idempotency
// recorder), over HTTP/1.1, HTTP/2 and h2c with a real client, and checks
// STYLE B6: http.ResponseController's Flush reaches the client mid-response,
// deadlines reach the connection, io.Copy (ReadFrom) keeps Write's
// semantics, and Hijack works on HTTP/1 and fails with ErrNotSupported on
// HTTP/2.
func TestWrapperStacking(t *testing.T) {
	cstest.Run(t, func(t *testing.T, m cstest.Mode) {
		p := newPool(t)
		c, err := compress.New()
		if err != nil {
			t.Fatal(err)
		}
		ss, _ := sessstore.New()
		sm, err := session.New(ss)
		if err != nil {
			t.Fatal(err)
		}
		is, _ := idemstore.New()
		im, err := idempotency.New(is)
		if err != nil {
			t.Fatal(err)
		}
		next := make(chan struct{})
		hijackErr := make(chan error, 1)
		final := handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			if r.URL.Path == "/hijack" {
				conn, brw, err := rc.Hijack()
				if err == nil {
					brw.WriteString("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
					brw.Flush()
					conn.Close()
				}
				hijackErr <- err
				return
			}
			if err := rc.SetWriteDeadline(timeNowPlusMinute()); err != nil {
				t.Errorf("SetWriteDeadline through the stack: %v", err)
			}
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "first line\n")
			if err := rc.Flush(); err != nil {
				t.Errorf("Flush through the stack: %v", err)
			}
			<-next
			if n, err := io.Copy(w, strings.NewReader(strings.Repeat("copied\n", 1000))); n != 7000 || err != nil {
				t.Errorf("io.Copy = %d, %v", n, err)
			}
		})
		h := p.Middleware()(c.Handler(sm.Handler(im.Handler(final))))
		srv := cstest.Start(t, m, h, p.ConfigureServer)

		req, _ := http.NewRequest("POST", srv.URL+"/stream", nil)
		req.Header.Set("Idempotency-Key", "k-"+string(m))
		res, err := srv.Client.Do(req) // the client decodes gzip itself
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(res.Body)
		line, err := br.ReadString('\n')
		if line != "first line\n" {
			t.Fatalf("first line %q (%v): the flush did not reach the client through the stack", line, err)
		}
		close(next)
		rest, err := io.ReadAll(br)
		res.Body.Close()
		if err != nil || len(rest) != 7000 {
			t.Errorf("rest: %d bytes, %v; want 7000", len(rest), err)
		}
		if res.Header.Get("Set-Cookie") == "" {
			t.Error("no session cookie: the session wrapper was not in the chain")
		}

		hreq, _ := http.NewRequest("GET", srv.URL+"/hijack", nil)
		if res, err := srv.Client.Do(hreq); err == nil {
			res.Body.Close()
		}
		err = <-hijackErr
		switch m {
		case cstest.H1:
			if err != nil {
				t.Errorf("Hijack on HTTP/1 through the stack: %v", err)
			}
		default:
			if !errors.Is(err, http.ErrNotSupported) {
				t.Errorf("Hijack on %s: %v, want ErrNotSupported", m, err)
			}
		}
	})
}
