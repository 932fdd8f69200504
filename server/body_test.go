package server

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLimitBody(t *testing.T) {
	const limit = 10
	tests := []struct {
		name       string
		limit      int64
		body       string
		chunked    bool // no Content-Length
		wantCode   int
		wantCalled bool
		wantRead   string
		wantTooBig bool // the handler's read fails with *http.MaxBytesError
	}{
		{name: "under", limit: limit, body: "0123456789", wantCode: 200, wantCalled: true, wantRead: "0123456789"},
		{name: "announced over", limit: limit, body: "0123456789x", wantCode: http.StatusRequestEntityTooLarge},
		{name: "chunked over", limit: limit, body: "0123456789x", chunked: true, wantCode: 200, wantCalled: true, wantRead: "0123456789", wantTooBig: true},
		{name: "no limit", limit: 0, body: strings.Repeat("x", 100), wantCode: 200, wantCalled: true, wantRead: strings.Repeat("x", 100)},
		{name: "no body", limit: limit, wantCode: 200, wantCalled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				called bool
				read   []byte
				err    error
			)
			h := limitBody(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				called = true
				read, err = io.ReadAll(r.Body)
			}), tt.limit)
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			if tt.body == "" {
				r = httptest.NewRequest("GET", "/", nil)
			}
			if tt.chunked {
				r.ContentLength = -1
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.wantCode {
				t.Errorf("status = %d, want %d", w.Code, tt.wantCode)
			}
			if called != tt.wantCalled {
				t.Fatalf("handler called = %v, want %v", called, tt.wantCalled)
			}
			if !called {
				if got := w.Header().Get("Connection"); got != "close" {
					t.Errorf("Connection = %q, want close on a refused body", got)
				}
				return
			}
			if string(read) != tt.wantRead {
				t.Errorf("handler read %q, want %q", read, tt.wantRead)
			}
			var tooBig *http.MaxBytesError
			if got := errors.As(err, &tooBig); got != tt.wantTooBig {
				t.Errorf("read error = %v, want a *http.MaxBytesError: %v", err, tt.wantTooBig)
			}
		})
	}
}
