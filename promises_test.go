package lifeline_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/cstest"
	"github.com/lifeline-go/lifeline/internal/h2raw"
	"github.com/lifeline-go/lifeline/internal/pooltest"
	"github.com/lifeline-go/lifeline/lifelinetest"
	"github.com/lifeline-go/lifeline/output"
)

// The tests in this file give each promise of the run engine the client or
// the fault that would break it (issue 13): a client that never reads, an
// HTTP/2 client that never opens its window, a recover middleware inside the
// run, an output handler that panics at the final flush, code that writes
// after the run ended.

// streamForever writes 64 KiB chunks until the run is terminated.
var streamForever = handlerFunc(func(w http.ResponseWriter, r *http.Request) {
	chunk := []byte(strings.Repeat("x", 64<<10))
	for {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
})

// startH2C serves h over HTTP/1 and h2c with the pool's socket hooks.
func startH2C(t *testing.T, p *lifelinetest.Pool, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	ts.Config.Protocols = &protos
	p.ConfigureServer(ts.Config)
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

// TestH2ZeroWindowEndsAtTimeLimit: a client that opens streams with
// SETTINGS_INITIAL_WINDOW_SIZE=0, never sends WINDOW_UPDATE and answers
// PINGs cannot keep a run past its time limit: every write stuck on the
// window is woken, the stream is reset, and no run is left (issue 13 §2).
func TestH2ZeroWindowEndsAtTimeLimit(t *testing.T) {
	p := newPool(t, lifeline.WithTimeLimit(300*time.Millisecond), lifeline.WithGracePeriod(time.Second))
	ts := startH2C(t, p, p.Middleware()(streamForever))
	const conns, streams = 2, 250
	var cs []*h2raw.Conn
	for range conns {
		hc := dialZeroWindow(t, ts.Listener.Addr().String())
		cs = append(cs, hc)
		for range streams {
			if err := hc.Get(ts.Listener.Addr().String(), "/"); err != nil {
				t.Fatal(err)
			}
		}
	}
	start := time.Now()
	if !waitFor(10*time.Second, func() bool { return p.Stats().Accepted == conns*streams }) {
		t.Fatalf("accepted %d runs, want %d", p.Stats().Accepted, conns*streams)
	}
	p.WaitIdle(10 * time.Second)
	t.Logf("%d runs on zero-window streams ended %v after they started (limit 300ms)", conns*streams, time.Since(start))
	st := p.Stats()
	if st.Runaway != 0 {
		t.Errorf("Runaway = %d, want 0: a stuck write must be woken at the time limit, not at the grace period's end", st.Runaway)
	}
	for _, rec := range p.Recent() {
		if rec.Status != lifeline.Timeout || rec.Cause != lifeline.CauseTimeLimit {
			t.Errorf("run %d: Status = %v, cause %q; want timeout by the time limit (the client never left)", rec.ID, rec.Status, rec.Cause)
			break
		}
	}
	if n := st.Aborts["silent-peer"] + st.Aborts["closed"] + st.Aborts["reset"]; n != 0 {
		t.Errorf("Aborts = %v, want none: cutting a stuck write is not the client leaving", st.Aborts)
	}
	for i, hc := range cs {
		if !waitFor(5*time.Second, func() bool { return hc.Counts().Resets >= streams }) {
			t.Errorf("conn %d: client saw %+v, want %d RST_STREAM (a cut response, never a complete one)", i, hc.Counts(), streams)
		}
		if c := hc.Counts(); c.Data != 0 || c.EndStreams != 0 {
			t.Errorf("conn %d: client saw %+v, want no DATA and no END_STREAM", i, c)
		}
	}
}

// dialZeroWindow opens an h2c connection whose streams get no flow-control
// window, ever; it is closed when the test ends.
func dialZeroWindow(t *testing.T, addr string) *h2raw.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := h2raw.Dial(c, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hc.Close() })
	return hc
}

// dialNoRead opens a connection with a small receive buffer that sends one
// request and never reads the answer.
func dialNoRead(t *testing.T, addr, path string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if path == "" {
		return c // the caller speaks on it (TLS)
	}
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestH1UnreadAnswerEndsAtTimeLimit: an HTTP/1 client that never reads a
// 10 MiB answer fills the socket buffers, and the write blocks; the time
// limit still ends the run, whether the write is the handler's own or
// Finish's final one (issue 13 §2).
func TestH1UnreadAnswerEndsAtTimeLimit(t *testing.T) {
	big := []byte(strings.Repeat("y", 10<<20))
	tests := []struct {
		name string
		opts []lifeline.Option
		h    http.HandlerFunc
	}{
		{name: "handler write", h: func(w http.ResponseWriter, r *http.Request) { w.Write(big) }},
		{name: "finish write", opts: []lifeline.Option{lifeline.WithOutputBuffering(16 << 20)},
			h: func(w http.ResponseWriter, r *http.Request) {
				rn, _ := lifeline.FromContext(r.Context())
				w.Write(big)
				rn.Finish()
			}},
		{name: "ignoring aborts", opts: []lifeline.Option{lifeline.WithIgnoreUserAbort(true)},
			h: func(w http.ResponseWriter, r *http.Request) { w.Write(big) }},
	}
	for _, tt := range tests {
		for _, useTLS := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/tls=%v", tt.name, useTLS), func(t *testing.T) {
				opts := append([]lifeline.Option{lifeline.WithTimeLimit(300 * time.Millisecond), lifeline.WithGracePeriod(5 * time.Second)}, tt.opts...)
				p := newPool(t, opts...)
				if useTLS {
					ts := httptest.NewUnstartedServer(p.Middleware()(tt.h))
					p.ConfigureServer(ts.Config)
					ts.StartTLS()
					t.Cleanup(ts.Close)
					c := dialNoRead(t, ts.Listener.Addr().String(), "")
					tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
					if _, err := io.WriteString(tc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
						t.Fatal(err)
					}
				} else {
					ts := startH2C(t, p, p.Middleware()(tt.h))
					dialNoRead(t, ts.Listener.Addr().String(), "/")
				}
				if !waitFor(5*time.Second, func() bool { return p.Stats().Accepted == 1 }) {
					t.Fatal("the run did not start")
				}
				p.WaitIdle(4 * time.Second) // well before the 5 s grace period
				rec := p.Recent()[0]
				if rec.Status&lifeline.Timeout == 0 || rec.Runaway {
					t.Errorf("Record = %+v, want the Timeout bit and no runaway", rec)
				}
			})
		}
	}
}

// TestStallBound: a client that is alive but takes nothing is cut after the
// stall timeout with CauseStalled, even without a time limit; a slow reader
// that keeps taking bytes is never cut (issue 13 §1).
func TestStallBound(t *testing.T) {
	const stall = 400 * time.Millisecond
	t.Run("takes nothing", func(t *testing.T) {
		p := newPool(t, lifeline.WithTimeLimit(0), lifeline.WithStallTimeout(stall))
		ts := startH2C(t, p, p.Middleware()(streamForever))
		dialNoRead(t, ts.Listener.Addr().String(), "/")
		if !waitFor(5*time.Second, func() bool { return p.Stats().Accepted == 1 }) {
			t.Fatal("the run did not start")
		}
		p.WaitIdle(5 * time.Second)
		rec := p.Recent()[0]
		if rec.Cause != lifeline.CauseStalled || rec.Status&lifeline.Aborted == 0 {
			t.Errorf("Record = %+v, want Aborted with cause %q", rec, lifeline.CauseStalled)
		}
	})
	t.Run("h2 zero window", func(t *testing.T) {
		p := newPool(t, lifeline.WithTimeLimit(0), lifeline.WithStallTimeout(stall))
		ts := startH2C(t, p, p.Middleware()(streamForever))
		hc := dialZeroWindow(t, ts.Listener.Addr().String())
		for range 10 {
			hc.Get("x", "/")
		}
		if !waitFor(5*time.Second, func() bool { return p.Stats().Accepted == 10 }) {
			t.Fatal("the runs did not start")
		}
		p.WaitIdle(5 * time.Second)
		for _, rec := range p.Recent() {
			if rec.Cause != lifeline.CauseStalled {
				t.Errorf("Record = %+v, want cause %q", rec, lifeline.CauseStalled)
			}
		}
	})
	t.Run("one large write, steady reader", func(t *testing.T) {
		// The kernel wakes a blocked writer only once a good part of the
		// send buffer is free (about half a second here at this rate),
		// so the bound is set above that: the point is that the whole
		// write lasts longer than the bound.
		const size, stall = 8 << 20, 2 * time.Second
		p := newPool(t, lifeline.WithTimeLimit(0), lifeline.WithStallTimeout(stall))
		ts := startH2C(t, p, p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(strings.Repeat("w", size)))
		})))
		resp, err := http.Get(ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		// About 2.5 MB/s: the whole write takes several stall periods,
		// but the client never stops taking bytes.
		readSlowly(t, p, resp.Body, size, 64<<10, 25*time.Millisecond)
	})
	t.Run("slow reader", func(t *testing.T) {
		const size = 1 << 20
		p := newPool(t, lifeline.WithTimeLimit(0), lifeline.WithStallTimeout(stall))
		ts := startH2C(t, p, p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			chunk := []byte(strings.Repeat("z", 32<<10))
			for range size / len(chunk) {
				w.Write(chunk)
			}
		})))
		c, err := net.Dial("tcp", ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		// 16 KiB every 40 ms: about 400 KB/s, each pause well inside the
		// stall bound, the whole answer several times longer than it.
		readSlowly(t, p, resp.Body, size, 16<<10, 40*time.Millisecond)
	})
}

// readSlowly reads body in chunks with a pause after each, then checks that
// all size bytes arrived and that the run ended Normal: the client was slow,
// never gone.
func readSlowly(t *testing.T, p *lifelinetest.Pool, body io.Reader, size, chunk int, pause time.Duration) {
	t.Helper()
	n, buf := 0, make([]byte, chunk)
	for {
		k, err := io.ReadFull(body, buf)
		n += k
		if err != nil {
			break
		}
		time.Sleep(pause)
	}
	if n != size {
		t.Errorf("slow reader got %d bytes, want %d", n, size)
	}
	p.WaitIdle(5 * time.Second)
	if rec := p.Recent()[0]; rec.Status != lifeline.Normal {
		t.Errorf("Record = %+v, want Normal", rec)
	}
}

// TestAfterRunEnded: a handler (or a framework's error handler) that keeps
// the ResponseWriter and writes after the run ended gets ErrRunEnded at
// once, never a hang; the run context is cancelled with ErrRunEnded when the
// run ends (issue 13 §4).
func TestAfterRunEnded(t *testing.T) {
	p := newPool(t)
	kept := make(chan http.ResponseWriter, 1)
	var run *lifeline.Run
	h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		run = mustRun(t, r)
		io.WriteString(w, "ok")
		kept <- w
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	w := <-kept
	if !waitFor(5*time.Second, func() bool { return run.Phase() == lifeline.PhaseDone }) {
		t.Fatal("the run did not end")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := w.Write([]byte("late")); !errors.Is(err, lifeline.ErrRunEnded) {
			t.Errorf("Write after the end = %v, want ErrRunEnded", err)
		}
		w.WriteHeader(http.StatusNotFound)
		w.(http.Flusher).Flush()
		if err := http.NewResponseController(w).Flush(); !errors.Is(err, lifeline.ErrRunEnded) {
			t.Errorf("ResponseController.Flush after the end = %v, want ErrRunEnded", err)
		}
		if err := run.Finish(); !errors.Is(err, lifeline.ErrRunEnded) {
			t.Errorf("Finish after the end = %v, want ErrRunEnded", err)
		}
		w.Header().Set("X-Late", "1")
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a call on the ResponseWriter after the run ended blocked")
	}
	if got := rec.Body.String(); got != "ok" {
		t.Errorf("body = %q, want %q", got, "ok")
	}
	select {
	case <-run.Context().Done():
	default:
		t.Fatal("the run context was not cancelled when the run ended")
	}
	if cause := context.Cause(run.Context()); !errors.Is(cause, lifeline.ErrRunEnded) {
		t.Errorf("context.Cause = %v, want ErrRunEnded", cause)
	}
}

// TestFinishDoesNotCancelContext: Finish ends the response, not the run: its
// context lives on until the run ends.
func TestFinishDoesNotCancelContext(t *testing.T) {
	p := newPool(t)
	alive := make(chan bool, 1)
	h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn := mustRun(t, r)
		rn.Finish()
		alive <- r.Context().Err() == nil
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if !<-alive {
		t.Error("the run context was cancelled by Finish")
	}
}

// TestFinalFlushPanic: an output handler that panics at the final flush
// does not kill the process: it is logged, and the client gets a 500 when
// nothing was sent, a cut response otherwise (issue 13 §4).
func TestFinalFlushPanic(t *testing.T) {
	panicky := output.HandlerFunc(func(buf []byte, ph output.Op) ([]byte, error) {
		if ph&output.OpFinal != 0 {
			panic("compressor exploded")
		}
		return buf, nil
	})
	cstest.Run(t, func(t *testing.T, m cstest.Mode) {
		for _, finish := range []bool{false, true} {
			t.Run(fmt.Sprint("finish=", finish), func(t *testing.T) {
				p := newPool(t)
				ts := cstest.Start(t, m, p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
					rn := mustRun(t, r)
					rn.Output().Start(panicky, 0, output.StdFlags)
					io.WriteString(w, "never complete")
					if finish {
						rn.Finish()
					}
				})), p.ConfigureServer)
				resp, err := ts.Client.Get(ts.URL)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusInternalServerError || strings.Contains(string(body), "never complete") {
					t.Errorf("got %d %q, want a 500 without the body", resp.StatusCode, body)
				}
				p.WaitIdle(5 * time.Second)
				if rec := p.Recent()[0]; !rec.Panicked || rec.Code != http.StatusInternalServerError {
					t.Errorf("Record = %+v, want Panicked and Code 500", rec)
				}
			})
		}
	})
}

// TestTrailers: trailers declared up front and set after the body, and
// trailers set with http.TrailerPrefix, both reach the client (issue 13 §5).
func TestTrailers(t *testing.T) {
	cstest.Run(t, func(t *testing.T, m cstest.Mode) {
		p := newPool(t)
		ts := cstest.Start(t, m, p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "body")
			w.Header().Set("X-Sum", "42")
			w.Header().Set(http.TrailerPrefix+"X-Late", "7")
		})), p.ConfigureServer)
		resp, err := ts.Client.Get(ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "body" || resp.Trailer.Get("X-Sum") != "42" || resp.Trailer.Get("X-Late") != "7" {
			t.Errorf("got %q with trailer %v, want \"body\" with X-Sum: 42 and X-Late: 7", body, resp.Trailer)
		}
	})
}

// TestRecordCodeIsWhatWasSent: a run that wrote nothing the client saw
// records code 0, even when its handler chose one (issue 13 §5).
func TestRecordCodeIsWhatWasSent(t *testing.T) {
	p := newPool(t, lifeline.WithIgnoreUserAbort(true))
	started := make(chan struct{})
	ts := startH2C(t, p, p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn := mustRun(t, r)
		close(started)
		waitFor(5*time.Second, rn.Aborted)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"status":"confirmed"}`)
	})))
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
	<-started
	c.Close()
	p.WaitIdle(5 * time.Second)
	if rec := p.Recent()[0]; rec.Code != 0 || rec.Status != lifeline.Aborted || rec.BytesSent != 0 {
		t.Errorf("Record = %+v, want Code 0, Aborted, no bytes", rec)
	}
}

// swallow is a recover middleware that swallows every panic.
var swallow = pooltest.Swallow

// TestRecovererInsideRun: a recoverer inside the run that swallows the
// termination cannot turn it into a complete-looking response (issue 13 §3).
func TestRecovererInsideRun(t *testing.T) {
	cstest.Run(t, func(t *testing.T, m cstest.Mode) {
		for _, tt := range []struct {
			name     string
			bufSize  int
			wantCode int // 0: a cut response
		}{
			{name: "partial output buffered", bufSize: 4096, wantCode: http.StatusServiceUnavailable},
			{name: "partial output sent", bufSize: 0, wantCode: 0},
		} {
			t.Run(tt.name, func(t *testing.T) {
				p := newPool(t, lifeline.WithTimeLimit(100*time.Millisecond), lifeline.WithOutputBuffering(tt.bufSize))
				var terminated atomic.Bool
				ts := cstest.Start(t, m, p.Middleware()(swallow(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
					defer func() {
						v := recover()
						terminated.Store(v != nil && errors.Is(v.(error), lifeline.ErrTerminated))
						panic(v)
					}()
					io.WriteString(w, "partial ")
					rn := mustRun(t, r)
					for {
						rn.Check()
						time.Sleep(time.Millisecond)
					}
				}))), p.ConfigureServer)
				resp, err := ts.Client.Get(ts.URL)
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				switch {
				case tt.wantCode != 0 && (err != nil || resp.StatusCode != tt.wantCode):
					t.Errorf("got %v %v %q, want %d", resp, err, body, tt.wantCode)
				case tt.wantCode == 0 && err == nil:
					t.Errorf("got a complete %d %q, want a cut response", resp.StatusCode, body)
				}
				if !terminated.Load() {
					t.Error("the recovered value did not match ErrTerminated")
				}
				p.WaitIdle(5 * time.Second)
				if rec := p.Recent()[0]; rec.Panicked {
					t.Errorf("Record = %+v: a termination is not a panic", rec)
				}
			})
		}
	})
}

// TestExactLengthOnTheWire: every complete response carries its exact
// Content-Length, whether Lifeline sets it (bodies of 2 KiB and more) or
// leaves it to net/http (shorter ones), at the end of the run and at Finish.
func TestExactLengthOnTheWire(t *testing.T) {
	cstest.Run(t, func(t *testing.T, m cstest.Mode) {
		for _, size := range []int{0, 1, 100, 2047, 2048, 4000} {
			for _, finish := range []bool{false, true} {
				t.Run(fmt.Sprintf("%d/finish=%v", size, finish), func(t *testing.T) {
					p := newPool(t)
					ts := cstest.Start(t, m, p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
						io.WriteString(w, strings.Repeat("b", size))
						if finish {
							mustRun(t, r).Finish()
						}
					})), p.ConfigureServer)
					resp, err := ts.Client.Get(ts.URL)
					if err != nil {
						t.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if len(body) != size || resp.ContentLength != int64(size) {
						t.Errorf("got %d bytes with Content-Length %d, want %d and %d", len(body), resp.ContentLength, size, size)
					}
				})
			}
		}
	})
}
