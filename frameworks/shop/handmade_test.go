package shop_test

// The same two tests as shop_test.go, written without package lifelinetest:
// the harness a user wrote by hand before it existed (the "before" of the
// lines-a-user-writes figure in docs/FRAMEWORKS.md).

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/frameworks/shop"
)

// harness is a pool whose ended runs arrive on a channel.
type harness struct {
	pool  *lifeline.Pool
	ended chan lifeline.Record
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{ended: make(chan lifeline.Record, 16)}
	pool, err := lifeline.NewPool(
		lifeline.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		lifeline.WithRunEnded(func(rec lifeline.Record) { h.ended <- rec }),
	)
	if err != nil {
		t.Fatal(err)
	}
	h.pool = pool
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := pool.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return h
}

// serve starts a loopback server with the pool's abort detection.
func (h *harness) serve(t *testing.T, app http.Handler) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(app)
	h.pool.ConfigureServer(srv.Config)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// record waits for the next run to end.
func (h *harness) record(t *testing.T) lifeline.Record {
	t.Helper()
	timer := time.NewTimer(time.Minute)
	defer timer.Stop()
	select {
	case rec := <-h.ended:
		return rec
	case <-timer.C:
		t.Fatal("no run ended")
		return lifeline.Record{}
	}
}

// signalling orders tells the test when the handler stores an order.
type signalling struct {
	orders
	stored chan struct{}
}

func (s signalling) Store(id string) error {
	close(s.stored)
	return nil
}

func TestHandmadeOrderClientLeaves(t *testing.T) {
	h := newHarness(t)
	o := signalling{stored: make(chan struct{})}
	addr := h.serve(t, shop.Routes(h.pool, o))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "POST /orders/7 HTTP/1.1\r\nHost: shop\r\nContent-Length: 0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-o.stored
	c.(*net.TCPConn).SetLinger(0) // leave with an RST
	c.Close()
	if rec := h.record(t); rec.Notes["confirmed"] != "7" {
		t.Errorf("record %+v: the order was not confirmed", rec)
	}
}

func TestHandmadeOrderTimeLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		w := httptest.NewRecorder()
		func() {
			defer func() {
				if v := recover(); v != nil && v != http.ErrAbortHandler {
					panic(v)
				}
			}()
			shop.Routes(h.pool, orders{delay: 30 * time.Second}).ServeHTTP(w, httptest.NewRequest("POST", "/orders/8", nil))
		}()
		if rec := h.record(t); w.Code != 201 || rec.Status != lifeline.Timeout || rec.Duration != 30*time.Second {
			t.Errorf("code %d, record %+v: want 201, then a timeout", w.Code, rec)
		}
	})
}
