package status_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lifeline-go/lifeline/status"
)

func TestAccess(t *testing.T) {
	pool := newPool(t)
	open, err := status.New(pool)
	if err != nil {
		t.Fatal(err)
	}
	const token = "s3cr3t-T0ken_~+/=="
	locked, err := status.New(pool, status.WithBearerToken(token))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		h          *status.Handler
		remoteAddr string
		header     http.Header
		want       int
	}{
		{name: "loopback v4", h: open, remoteAddr: "127.0.0.1:1234", want: 200},
		{name: "loopback v4 other", h: open, remoteAddr: "127.8.9.10:1234", want: 200},
		{name: "loopback v6", h: open, remoteAddr: "[::1]:1234", want: 200},
		{name: "loopback v6 zone", h: open, remoteAddr: "[::1%lo]:1234", want: 200},
		{name: "loopback v4-mapped", h: open, remoteAddr: "[::ffff:127.0.0.1]:1234", want: 200},
		{name: "documentation address", h: open, remoteAddr: "192.0.2.1:1234", want: 403},
		{name: "private address", h: open, remoteAddr: "10.0.0.1:1234", want: 403},
		{name: "v6 address", h: open, remoteAddr: "[2001:db8::1]:1234", want: 403},
		{name: "unspecified", h: open, remoteAddr: "0.0.0.0:1234", want: 403},
		{name: "no port", h: open, remoteAddr: "127.0.0.1", want: 403},
		{name: "unix socket", h: open, remoteAddr: "@", want: 403},
		{name: "empty", h: open, remoteAddr: "", want: 403},
		{name: "hostname", h: open, remoteAddr: "localhost:1234", want: 403},
		{name: "proxied X-Forwarded-For", h: open, remoteAddr: "127.0.0.1:1234",
			header: http.Header{"X-Forwarded-For": {"203.0.113.9"}}, want: 403},
		{name: "proxied Forwarded", h: open, remoteAddr: "127.0.0.1:1234",
			header: http.Header{"Forwarded": {"for=203.0.113.9"}}, want: 403},
		{name: "proxied X-Real-IP", h: open, remoteAddr: "127.0.0.1:1234",
			header: http.Header{"X-Real-Ip": {"203.0.113.9"}}, want: 403},
		{name: "token", h: locked, remoteAddr: "192.0.2.1:1234",
			header: http.Header{"Authorization": {"Bearer " + token}}, want: 200},
		{name: "token scheme case", h: locked, remoteAddr: "192.0.2.1:1234",
			header: http.Header{"Authorization": {"bEARER " + token}}, want: 200},
		{name: "token extra spaces", h: locked, remoteAddr: "192.0.2.1:1234",
			header: http.Header{"Authorization": {"Bearer   " + token}}, want: 200},
		{name: "token proxied", h: locked, remoteAddr: "127.0.0.1:1234",
			header: http.Header{"Authorization": {"Bearer " + token}, "X-Forwarded-For": {"203.0.113.9"}}, want: 200},
		{name: "no token from loopback", h: locked, remoteAddr: "127.0.0.1:1234", want: 401},
		{name: "wrong token", h: locked, remoteAddr: "192.0.2.1:1234",
			header: http.Header{"Authorization": {"Bearer " + token + "x"}}, want: 401},
		{name: "token prefix", h: locked, remoteAddr: "192.0.2.1:1234",
			header: http.Header{"Authorization": {"Bearer " + token[:5]}}, want: 401},
		{name: "basic scheme", h: locked, remoteAddr: "192.0.2.1:1234",
			header: http.Header{"Authorization": {"Basic " + token}}, want: 401},
		{name: "token alone", h: locked, remoteAddr: "192.0.2.1:1234",
			header: http.Header{"Authorization": {token}}, want: 401},
		{name: "empty bearer", h: locked, remoteAddr: "192.0.2.1:1234",
			header: http.Header{"Authorization": {"Bearer "}}, want: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, target := range []string{"/status", "/status?json&full"} {
				r := httptest.NewRequest(http.MethodGet, target, nil)
				r.RemoteAddr = tt.remoteAddr
				for k, v := range tt.header {
					r.Header[k] = v
				}
				for name, h := range map[string]http.Handler{"page": tt.h, "metrics": tt.h.Metrics()} {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != tt.want {
						t.Errorf("%s %s: code = %d, want %d", name, target, w.Code, tt.want)
					}
					if tt.want == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer ") {
						t.Errorf("%s: WWW-Authenticate = %q, want a Bearer challenge", name, w.Header().Get("WWW-Authenticate"))
					}
					if tt.want != 200 && strings.Contains(w.Body.String(), "accepted_runs") {
						t.Errorf("%s: a refused request got the status: %q", name, w.Body.String())
					}
				}
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	pool := newPool(t)
	tests := []struct {
		name string
		opts []status.Option
		want error
	}{
		{name: "empty token", opts: []status.Option{status.WithBearerToken("")}, want: status.ErrInvalidOption},
		{name: "token with space", opts: []status.Option{status.WithBearerToken("a b")}, want: status.ErrInvalidOption},
		{name: "token only padding", opts: []status.Option{status.WithBearerToken("==")}, want: status.ErrInvalidOption},
		{name: "token with newline", opts: []status.Option{status.WithBearerToken("abc\r\n")}, want: status.ErrInvalidOption},
		{name: "negative refresh", opts: []status.Option{status.WithRefresh(-1)}, want: status.ErrInvalidOption},
		{name: "empty pool name", opts: []status.Option{status.WithPoolName("")}, want: status.ErrInvalidOption},
		{name: "bad namespace", opts: []status.Option{status.WithNamespace("9lives")}, want: status.ErrInvalidOption},
		{name: "dash namespace", opts: []status.Option{status.WithNamespace("life-line")}, want: status.ErrInvalidOption},
		{name: "no buckets", opts: []status.Option{status.WithBuckets()}, want: status.ErrInvalidOption},
		{name: "unsorted buckets", opts: []status.Option{status.WithBuckets(1, 0.5)}, want: status.ErrInvalidOption},
		{name: "zero bucket", opts: []status.Option{status.WithBuckets(0, 1)}, want: status.ErrInvalidOption},
		{name: "nil option", opts: []status.Option{nil}, want: status.ErrInvalidOption},
		{name: "valid", opts: []status.Option{status.WithBearerToken("abc"), status.WithRefresh(0), status.WithNamespace("app_lifeline"), status.WithBuckets(0.1, 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := status.New(pool, tt.opts...)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("New: err = %v, want %v", err, tt.want)
			}
			_, err = status.NewMetrics(pool, tt.opts...)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("NewMetrics: err = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := status.New(nil); !errors.Is(err, status.ErrNilPool) {
		t.Errorf("New(nil): err = %v, want ErrNilPool", err)
	}
	if _, err := status.NewMetrics(nil); !errors.Is(err, status.ErrNilPool) {
		t.Errorf("NewMetrics(nil): err = %v, want ErrNilPool", err)
	}
}
