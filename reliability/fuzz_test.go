package reliability

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/compress"
	"github.com/lifeline-go/lifeline/idempotency"
	idemmem "github.com/lifeline-go/lifeline/idempotency/memstore"
	"github.com/lifeline-go/lifeline/session"
	sessmem "github.com/lifeline-go/lifeline/session/memstore"
)

// The end-to-end fuzz targets feed client input through the whole stack a
// request meets (a Lifeline run, then the middleware), where the parsers'
// own targets (compress.FuzzNegotiate, idempotency.FuzzParseKey,
// session.FuzzIDFromCookie, ...) test them alone. R4 runs them with the
// others.

// fuzzPool returns a pool for fuzz targets, quiet and with a short limit.
func fuzzPool(t testing.TB) *lifeline.Pool {
	p, err := lifeline.NewPool(lifeline.WithLogger(discardLogger()), lifeline.WithRecentRuns(0))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// serve runs one request through h and returns the recorded answer.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// FuzzIdempotencyRequest sends a request with a fuzzed Idempotency-Key
// field, method and body twice through a run and the idempotency
// middleware: the handler runs at most once per key, a malformed key gets
// 400 without running it, and the second request of a key that ran gets
// the first answer again, marked replayed.
func FuzzIdempotencyRequest(f *testing.F) {
	for _, s := range []struct {
		key, method string
		body        []byte
	}{
		{"abc", "POST", []byte("a=1")},
		{`"8e03978e-40d5-43e8-bc93-6894a57f9324"`, "POST", nil},
		{`"with \"escapes\" and \\"`, "PATCH", []byte("{}")},
		{"", "POST", nil},
		{" \t", "POST", nil},
		{"sp ace", "POST", nil},
		{strings.Repeat("k", 256), "POST", nil},
		{`"unterminated`, "POST", nil},
		{"k\x00", "POST", nil},
		{"abc", "GET", nil},
	} {
		f.Add(s.key, s.method, s.body)
	}
	pool := fuzzPool(f)
	f.Fuzz(func(t *testing.T, key, method string, body []byte) {
		if method != "POST" && method != "PATCH" && method != "GET" && method != "PUT" {
			method = "POST"
		}
		store, err := idemmem.New()
		if err != nil {
			t.Fatal(err)
		}
		mw, err := idempotency.New(store, idempotency.WithLogger(discardLogger()))
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		runs := 0
		h := pool.Middleware()(mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			runs++
			n := runs
			mu.Unlock()
			got, _ := io.ReadAll(r.Body)
			if !bytes.Equal(got, body) {
				t.Errorf("the handler read %q, the client sent %q", got, body)
			}
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, "run "+string(rune('0'+n)))
		})))
		req := func() *http.Request {
			r := httptest.NewRequest(method, "/order?x=1", bytes.NewReader(body))
			r.Header["Idempotency-Key"] = []string{key}
			return r
		}
		first := serve(h, req())
		second := serve(h, req())
		parsed, perr := idempotency.ParseKey(key)
		protected := method == "POST" || method == "PATCH"
		switch {
		case !protected:
			if runs != 2 {
				t.Errorf("%s is not protected, yet the handler ran %d times", method, runs)
			}
		case perr != nil:
			if first.Code != http.StatusBadRequest || runs != 0 {
				t.Errorf("key %q is malformed (%v): status %d, handler ran %d times", key, perr, first.Code, runs)
			}
		default:
			if runs != 1 || first.Code != http.StatusCreated || second.Code != http.StatusCreated ||
				second.Body.String() != first.Body.String() || second.Header().Get("Idempotent-Replayed") != "true" {
				t.Errorf("key %q (%q): runs %d; first %d %q; second %d %q replayed %q", key, parsed, runs,
					first.Code, first.Body, second.Code, second.Body, second.Header().Get("Idempotent-Replayed"))
			}
		}
	})
}

// FuzzSessionCookie sends fuzzed Cookie fields to a session manager inside
// a run: a cookie that does not name a session the store holds is never
// adopted (strict mode), the one known session is found whatever surrounds
// it, and every cookie the server sets is a well-formed id.
func FuzzSessionCookie(f *testing.F) {
	f.Add("lifeline_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("lifeline_session=KNOWN")
	f.Add("a=b; lifeline_session=KNOWN; c=d")
	f.Add("lifeline_session=x; lifeline_session=KNOWN")
	f.Add(`lifeline_session="KNOWN"`)
	f.Add("lifeline_session=KNOWN\x00")
	f.Add("")
	f.Add(";;;=;=")
	store, err := sessmem.New()
	if err != nil {
		f.Fatal(err)
	}
	m, err := session.New(store, session.WithLogger(discardLogger()), session.WithLockWait(0))
	if err != nil {
		f.Fatal(err)
	}
	pool := fuzzPool(f)
	// One known session, created through the manager.
	var known string
	serve(pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := m.Start(w, r)
		if err != nil {
			f.Fatal(err)
		}
		_ = s.Set("v", "known")
		known = s.ID()
	})), httptest.NewRequest("GET", "/", nil))
	f.Fuzz(func(t *testing.T, cookie string) {
		cookie = strings.ReplaceAll(cookie, "KNOWN", known)
		var gotID, gotV string
		var isNew bool
		h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := m.Start(w, r)
			if err != nil {
				t.Errorf("Start with Cookie %q: %v", cookie, err)
				return
			}
			gotID, isNew = s.ID(), s.IsNew()
			gotV, _, _ = session.Value[string](s, "v")
			_ = s.Abort(context.Background())
		}))
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Cookie"] = []string{cookie}
		w := serve(h, r)
		offered := false
		for _, c := range r.CookiesNamed("lifeline_session") {
			offered = offered || c.Value == known
		}
		switch {
		case gotID == known && (isNew || gotV != "known"):
			t.Errorf("Cookie %q: the known session came back new or without its value", cookie)
		case gotID == known && !offered:
			t.Errorf("Cookie %q: the known session was adopted without being offered", cookie)
		case gotID != known && !isNew:
			t.Errorf("Cookie %q: session %q adopted though the store does not hold it", cookie, gotID)
		case gotID != known && gotV != "":
			t.Errorf("Cookie %q: a new session with values", cookie)
		}
		for _, c := range w.Result().Cookies() {
			if c.Name == "lifeline_session" {
				if _, err := session.ParseID(c.Value); err != nil {
					t.Errorf("Cookie %q: the server set a malformed id %q: %v", cookie, c.Value, err)
				}
			}
		}
	})
}

// FuzzCompressedAnswer sends a fuzzed Accept-Encoding field and body, written
// in fuzzed pieces with or without flushes, through a run and package
// compress: whatever coding is negotiated, the client decodes exactly the
// body written, and a Content-Length, when set, is exact.
func FuzzCompressedAnswer(f *testing.F) {
	f.Add("gzip", []byte(strings.Repeat("compressible text ", 200)), uint8(3), false)
	f.Add("br;q=0.9, zstd", []byte(strings.Repeat("abc", 1000)), uint8(7), true)
	f.Add("zstd, gzip;q=0.1", []byte("short"), uint8(1), false)
	f.Add("*;q=0", []byte(strings.Repeat("x", 5000)), uint8(2), true)
	f.Add("identity", []byte{}, uint8(0), false)
	f.Add("gzip;q=1.0001, br;q=", []byte(strings.Repeat("y", 2048)), uint8(5), true)
	comp, err := compress.New(compress.WithLogger(discardLogger()))
	if err != nil {
		f.Fatal(err)
	}
	pool := fuzzPool(f)
	f.Fuzz(func(t *testing.T, ae string, body []byte, pieces uint8, flush bool) {
		h := pool.Middleware()(comp.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			n := int(pieces%16) + 1
			for i := range n {
				lo, hi := len(body)*i/n, len(body)*(i+1)/n
				_, _ = w.Write(body[lo:hi])
				if flush {
					_ = http.NewResponseController(w).Flush()
				}
			}
		})))
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Accept-Encoding"] = []string{ae}
		w := serve(h, r)
		resp := w.Result()
		raw := w.Body.Bytes()
		if err := checkLength(resp, raw); err != nil {
			t.Errorf("Accept-Encoding %q: %v", ae, err)
		}
		got, err := decodeBody(resp, raw)
		if err != nil {
			t.Fatalf("Accept-Encoding %q, Content-Encoding %q: %v", ae, resp.Header.Get("Content-Encoding"), err)
		}
		if !bytes.Equal(got, body) {
			t.Errorf("Accept-Encoding %q, Content-Encoding %q: decoded %d bytes, wrote %d", ae, resp.Header.Get("Content-Encoding"), len(got), len(body))
		}
	})
}
