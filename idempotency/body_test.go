package idempotency_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/internal/idemtest"
)

// stallingBody delivers head, then blocks in Read until release is closed,
// and then fails as a body cut short by its client does in net/http.
// waiting is closed when Read first blocks.
type stallingBody struct {
	head    []byte
	once    sync.Once
	waiting chan struct{}
	release chan struct{}
}

func (b *stallingBody) Read(p []byte) (int, error) {
	if len(b.head) > 0 {
		n := copy(p, b.head)
		b.head = b.head[n:]
		return n, nil
	}
	b.once.Do(func() { close(b.waiting) })
	<-b.release
	return 0, io.ErrUnexpectedEOF
}

func (b *stallingBody) Close() error { return nil }

// await receives from c, or fails the test after 10 s; it waits for an
// event, it does not measure time.
func await(t *testing.T, what string, c <-chan struct{}) {
	t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case <-c:
	case <-timer.C:
		t.Fatalf("%s: not within 10s", what)
	}
}

// Issue 13 §5: the middleware allocated r.ContentLength bytes before the
// body arrived. A client that declares 64 MiB (at the limit) and sends 10
// bytes must cost about 10 bytes of buffer while the middleware waits.
func TestRequestBodyReadAsItArrives(t *testing.T) {
	const declared = 64 << 20
	h := idemtest.NewMiddleware(t, newMem(t), idempotency.WithMaxRequestBody(declared)).Handler(&idemtest.Orders{})
	body := &stallingBody{head: []byte("0123456789"), waiting: make(chan struct{}), release: make(chan struct{})}
	r := request("POST", "/", "k", "")
	r.Body, r.ContentLength = body, declared

	var before, during runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- serve(h, r) }()
	await(t, "the middleware reading the body", body.waiting)
	runtime.ReadMemStats(&during)
	close(body.release)
	w := <-done

	got := during.TotalAlloc - before.TotalAlloc
	t.Logf("a body declared %d bytes long that sent 10: %d bytes allocated while waiting", declared, got)
	if got >= 1<<20 {
		t.Errorf("allocated %d bytes while waiting for a body declared %d bytes long that sent 10, want < 1 MiB", got, declared)
	}
	wantProblem(t, w, 400, "reading the request body: unexpected EOF")
}

// wantFingerprint is the fingerprint of a request, as stores hold it: it
// must not change, or keys recorded before an upgrade stop matching their
// retries.
func wantFingerprint(method, path, query string, body []byte) string {
	bodySum := sha256.Sum256(body)
	sum := sha256.Sum256([]byte(method + "\x00" + path + "\x00" + query + "\x00" + string(bodySum[:])))
	return hex.EncodeToString(sum[:])
}

// fingerprints records the fingerprint of each Reserve.
type fingerprints struct {
	idempotency.Store
	got []string
}

func (s *fingerprints) Reserve(ctx context.Context, key, fp, token string, ttl time.Duration) (idempotency.Reservation, error) {
	s.got = append(s.got, fp)
	return s.Store.Reserve(ctx, key, fp, token, ttl)
}

// The body is read as before the fix of issue 13 §5: every size around the
// limit, with a declared length and without, delivered whole or a byte at
// a time, gets the same status, the same body for the handler and the
// same fingerprint.
func TestRequestBodySizes(t *testing.T) {
	const limit = 10_000 // several doublings of the buffer
	tests := []struct {
		name     string
		size     int   // bytes the client sends
		declared int64 // Content-Length; -1: unknown (chunked)
		wantCode int
		wantRead int // bytes the handler gets (and the fingerprint covers)
		detail   string
	}{
		{name: "empty", size: 0, declared: 0, wantCode: 201},
		{name: "empty, chunked", size: 0, declared: -1, wantCode: 201},
		{name: "1", size: 1, declared: 1, wantCode: 201, wantRead: 1},
		{name: "1, chunked", size: 1, declared: -1, wantCode: 201, wantRead: 1},
		{name: "limit-1", size: limit - 1, declared: limit - 1, wantCode: 201, wantRead: limit - 1},
		{name: "limit-1, chunked", size: limit - 1, declared: -1, wantCode: 201, wantRead: limit - 1},
		{name: "limit", size: limit, declared: limit, wantCode: 201, wantRead: limit},
		{name: "limit, chunked", size: limit, declared: -1, wantCode: 201, wantRead: limit},
		{name: "limit+1", size: limit + 1, declared: limit + 1, wantCode: 413, detail: "larger than 10000 bytes"},
		{name: "limit+1, chunked", size: limit + 1, declared: -1, wantCode: 413, detail: "larger than 10000 bytes"},
		{name: "2*limit, chunked", size: 2 * limit, declared: -1, wantCode: 413, detail: "larger than 10000 bytes"},
		{name: "cut short", size: 100, declared: limit, wantCode: 400, detail: "reading the request body: unexpected EOF"},
		{name: "nothing of a declared body", size: 0, declared: 100, wantCode: 400, detail: "reading the request body: EOF"},
		// net/http never delivers more than declared; the middleware stops
		// at the declared length.
		{name: "more than declared", size: 200, declared: 100, wantCode: 201, wantRead: 100},
	}
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"byte by byte", iotest.OneByteReader},
		{"data with EOF", iotest.DataErrReader},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				sent := []byte(strings.Repeat("0123456789", tt.size/10+1)[:tt.size])
				var got []byte
				ran := false
				fps := &fingerprints{Store: newMem(t)}
				h := idemtest.NewMiddleware(t, fps, idempotency.WithMaxRequestBody(limit)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					ran = true
					got, _ = io.ReadAll(r.Body)
					w.WriteHeader(http.StatusCreated)
				}))
				r := request("POST", "/orders?x=1", "k", "")
				r.Body = io.NopCloser(rd.wrap(strings.NewReader(string(sent))))
				r.ContentLength = tt.declared
				w := serve(h, r)
				if tt.wantCode != 201 {
					wantProblem(t, w, tt.wantCode, tt.detail)
					if ran {
						t.Errorf("the handler ran, want it refused")
					}
					return
				}
				if w.Code != 201 {
					t.Fatalf("status = %d, want 201; body %q", w.Code, w.Body)
				}
				if string(got) != string(sent[:tt.wantRead]) {
					t.Errorf("the handler read %d bytes, want %d", len(got), tt.wantRead)
				}
				want := wantFingerprint("POST", "/orders", "x=1", sent[:tt.wantRead])
				if len(fps.got) != 1 || fps.got[0] != want {
					t.Errorf("fingerprints = %q, want [%q]", fps.got, want)
				}
			})
		}
	}
}

// Issue 13 §5 over real sockets: connections that declare a body at the
// limit (1 MiB, the default) and send none must not make the heap grow by
// the declared lengths while the middleware waits for them.
func TestRequestBodyDeclaredNotSent(t *testing.T) {
	const conns = 50
	reading := make(chan struct{}, conns)
	m := idemtest.NewMiddleware(t, newMem(t))
	inner := m.Handler(&idemtest.Orders{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = &firstRead{ReadCloser: r.Body, reading: reading}
		inner.ServeHTTP(w, r)
	}))
	defer ts.Close()

	var before, during runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cs := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range cs {
			_ = c.Close()
		}
	}()
	for i := range conns {
		c, err := net.Dial("tcp", ts.Listener.Addr().String())
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		cs = append(cs, c)
		if _, err := fmt.Fprintf(c, "POST /orders HTTP/1.1\r\nHost: shop\r\nIdempotency-Key: k%d\r\nContent-Length: %d\r\n\r\n", i, 1<<20); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	for i := range conns {
		await(t, fmt.Sprintf("request %d reaching the body", i), reading)
	}
	runtime.GC()
	runtime.ReadMemStats(&during)
	heap := int64(during.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d connections declaring 1 MiB each, no body: heap grew by %d KiB, %d KiB allocated", conns, heap>>10, (during.TotalAlloc-before.TotalAlloc)>>10)
	if heap >= 4<<20 {
		t.Errorf("heap grew by %d bytes while %d connections declared 1 MiB bodies and sent nothing, want < 4 MiB", heap, conns)
	}
}

// firstRead signals reading at its first Read, then reads on.
type firstRead struct {
	io.ReadCloser
	once    sync.Once
	reading chan<- struct{}
}

func (b *firstRead) Read(p []byte) (int, error) {
	b.once.Do(func() { b.reading <- struct{}{} })
	return b.ReadCloser.Read(p)
}
