package idempotency_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/internal/cstest"
	"github.com/lifeline-go/lifeline/internal/idemtest"
	"github.com/lifeline-go/lifeline/internal/wait"
)

// plainWriter is a ResponseWriter with no optional interface at all.
type plainWriter struct {
	h    http.Header
	code int
	body strings.Builder
}

func (w *plainWriter) Header() http.Header { return w.h }
func (w *plainWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *plainWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = 200
	}
	return w.body.Write(p)
}

// TestRecorderFlush: Flush through ResponseController reaches a writer that
// can flush, and reports ErrNotSupported for one that cannot; either way
// the response is recorded.
func TestRecorderFlush(t *testing.T) {
	tests := []struct {
		name    string
		inner   func() http.ResponseWriter
		wantErr error
	}{
		{"ResponseRecorder", func() http.ResponseWriter { return httptest.NewRecorder() }, nil},
		{"no Flusher", func() http.ResponseWriter { return &plainWriter{h: http.Header{}} }, http.ErrNotSupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var flushErr error
			h := idemtest.NewMiddleware(t, newMem(t)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, "part 1,")
				flushErr = http.NewResponseController(w).Flush()
				if f, ok := w.(http.Flusher); ok {
					f.Flush()
				} else {
					t.Errorf("the recorder is not an http.Flusher")
				}
				fmt.Fprint(w, "part 2")
			}))
			inner := tt.inner()
			h.ServeHTTP(inner, request("POST", "/", "k", ""))
			if !errors.Is(flushErr, tt.wantErr) || (tt.wantErr == nil && flushErr != nil) {
				t.Fatalf("Flush error = %v, want %v", flushErr, tt.wantErr)
			}
			if rec, ok := inner.(*httptest.ResponseRecorder); ok && !rec.Flushed {
				t.Fatalf("the inner recorder was not flushed")
			}
			if w := serve(h, request("POST", "/", "k", "")); w.Body.String() != "part 1,part 2" {
				t.Fatalf("replay = %q, want the whole body", w.Body)
			}
		})
	}
}

// TestRecorderSnapshot: what the record holds when the handler changes the
// header late, writes 1xx, writes nothing, or writes WriteHeader twice.
func TestRecorderSnapshot(t *testing.T) {
	tests := []struct {
		name       string
		handler    func(w http.ResponseWriter)
		wantStatus int
		wantHeader map[string]string
		wantBody   string
	}{
		{"header after the first write is not recorded", func(w http.ResponseWriter) {
			w.Header().Set("X-Early", "1")
			fmt.Fprint(w, "body")
			w.Header().Set("X-Late", "1")
		}, 200, map[string]string{"X-Early": "1", "X-Late": ""}, "body"},
		{"1xx passes unrecorded", func(w http.ResponseWriter) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusAccepted)
		}, 202, map[string]string{"Link": "</style.css>; rel=preload"}, ""},
		{"nothing written", func(w http.ResponseWriter) {
			w.Header().Set("X-Only", "header")
		}, 200, map[string]string{"X-Only": "header"}, ""},
		{"second WriteHeader ignored", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusCreated)
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, "created")
		}, 201, nil, "created"},
		{"flush commits 200", func(w http.ResponseWriter) {
			_ = http.NewResponseController(w).Flush()
			w.WriteHeader(http.StatusInternalServerError)
		}, 200, nil, ""},
		{"trailers are not recorded", func(w http.ResponseWriter) {
			w.Header().Set("Trailer", "X-Sum")
			fmt.Fprint(w, "data")
			w.Header().Set("X-Sum", "abc")
		}, 200, map[string]string{"Trailer": "", "X-Sum": ""}, "data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := idemtest.NewMiddleware(t, newMem(t)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tt.handler(w)
			}))
			ts := httptest.NewServer(h)
			defer ts.Close()
			for i := range 2 {
				req, _ := http.NewRequest("POST", ts.URL, nil)
				req.Header.Set("Idempotency-Key", "k")
				resp, err := ts.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if i == 0 {
					continue
				}
				if resp.Header.Get("Idempotent-Replayed") != "true" || resp.StatusCode != tt.wantStatus || string(body) != tt.wantBody {
					t.Fatalf("replay = %d %q %v, want %d %q", resp.StatusCode, body, resp.Header, tt.wantStatus, tt.wantBody)
				}
				for k, v := range tt.wantHeader {
					if got := resp.Header.Get(k); got != v {
						t.Errorf("replay %s = %q, want %q", k, got, v)
					}
				}
			}
		})
	}
}

// TestRecorderReadFrom: io.Copy into the writer (sendfile on net/http) is
// recorded byte for byte below the cap, and still served in full above it.
func TestRecorderReadFrom(t *testing.T) {
	path := filepath.Join(t.TempDir(), "body")
	content := strings.Repeat("0123456789", 10_000)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		maxBody int64
		prefix  string
	}{
		{"recorded", 1 << 20, "head:"},
		{"over the cap", 1000, "head:"},
		{"over the cap, nothing before", 1000, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := idemtest.NewMiddleware(t, newMem(t), idempotency.WithMaxResponseBody(tt.maxBody)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, tt.prefix)
				f, err := os.Open(path)
				if err != nil {
					t.Error(err)
					return
				}
				defer f.Close()
				if n, err := io.Copy(w, f); err != nil || n != int64(len(content)) {
					t.Errorf("io.Copy = %d, %v; want %d, nil", n, err, len(content))
				}
			}))
			ts := httptest.NewServer(h)
			defer ts.Close()
			want := tt.prefix + content
			for i := range 2 {
				req, _ := http.NewRequest("POST", ts.URL, nil)
				req.Header.Set("Idempotency-Key", "k")
				resp, err := ts.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				replayed := resp.Header.Get("Idempotent-Replayed") == "true"
				switch {
				case i == 0 && string(body) != want:
					t.Fatalf("first response: %d bytes, want %d", len(body), len(want))
				case i == 1 && tt.maxBody >= int64(len(want)) && (!replayed || string(body) != want):
					t.Fatalf("replay: %d bytes replayed=%v, want the %d bytes", len(body), replayed, len(want))
				case i == 1 && tt.maxBody < int64(len(want)) && !strings.Contains(string(body), fmt.Sprintf("its %d-byte response body was too large", len(want))):
					t.Fatalf("replay of an unstored body = %q, want the explanation with the size", body)
				}
			}
		})
	}
}

// TestRecorderOverProtocols runs the recorder over real servers: Hijack
// works on HTTP/1 and fails with ErrNotSupported on HTTP/2; deadlines
// reach the connection through Unwrap; the response is recorded in every
// mode.
func TestRecorderOverProtocols(t *testing.T) {
	cstest.Run(t, func(t *testing.T, mode cstest.Mode) {
		var hijackErr, deadlineErr error
		h := idemtest.NewMiddleware(t, newMem(t)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			deadlineErr = rc.SetWriteDeadline(time.Now().Add(time.Minute))
			if r.URL.Path != "/hijack" {
				w.WriteHeader(http.StatusCreated)
				fmt.Fprint(w, "created over ", r.Proto)
				return
			}
			var conn io.Closer
			var brw *bufio.ReadWriter
			conn, brw, hijackErr = rc.Hijack()
			if hijackErr != nil {
				w.WriteHeader(http.StatusTeapot)
				return
			}
			defer conn.Close()
			fmt.Fprint(brw, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
			_ = brw.Flush()
		}))
		srv := cstest.Start(t, mode, h)
		post := func(path string) (*http.Response, string) {
			t.Helper()
			req, _ := http.NewRequest("POST", srv.URL+path, nil)
			req.Header.Set("Idempotency-Key", "k"+path)
			resp, err := srv.Client.Do(req)
			if err != nil {
				t.Fatalf("POST %s: %v", path, err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp, string(body)
		}
		first, body := post("/")
		if deadlineErr != nil {
			t.Fatalf("SetWriteDeadline through the recorder: %v", deadlineErr)
		}
		replay, replayBody := post("/")
		if replay.StatusCode != 201 || replayBody != body || replay.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay = %d %q, want 201 %q (first was %d)", replay.StatusCode, replayBody, body, first.StatusCode)
		}

		resp, body := post("/hijack")
		if mode == cstest.H1 {
			if hijackErr != nil || body != "hijacked" {
				t.Fatalf("hijack on HTTP/1: %v, body %q", hijackErr, body)
			}
			// The client has its bytes before the handler returns and the
			// key is completed: until then the key is in progress.
			wait.For(t, 10*time.Second, "the hijack to be recorded", func() bool {
				resp, body = post("/hijack")
				return !strings.Contains(body, "still being processed")
			})
			if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "took over its connection") {
				t.Fatalf("after a hijack: %d %q, want 409 saying there is nothing to replay", resp.StatusCode, body)
			}
			return
		}
		if !errors.Is(hijackErr, http.ErrNotSupported) || resp.StatusCode != http.StatusTeapot {
			t.Fatalf("hijack on %s: %v, status %d; want ErrNotSupported and the handler's fallback", mode, hijackErr, resp.StatusCode)
		}
	})
}

// TestSuperfluousWriteHeader: a second WriteHeader never reaches the inner
// writer, and the log names the handler's line, not the recorder's.
func TestSuperfluousWriteHeader(t *testing.T) {
	var logs bytes.Buffer
	m := idemtest.NewMiddleware(t, newMem(t), idempotency.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	inner := &countingWriter{ResponseWriter: httptest.NewRecorder()}
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "body")
		w.WriteHeader(http.StatusTeapot) // the bug being logged
	})).ServeHTTP(inner, request("POST", "/", "k", ""))
	if inner.writeHeaders != 0 {
		t.Fatalf("the inner writer got %d WriteHeader calls, want 0 (Write committed 200)", inner.writeHeaders)
	}
	if !strings.Contains(logs.String(), "superfluous WriteHeader") || !strings.Contains(logs.String(), "recorder_test.go:") {
		t.Fatalf("log = %q, want the superfluous call with the handler's file:line", logs.String())
	}
}

type countingWriter struct {
	http.ResponseWriter
	writeHeaders int
}

func (w *countingWriter) WriteHeader(code int) {
	w.writeHeaders++
	w.ResponseWriter.WriteHeader(code)
}
