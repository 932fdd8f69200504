package status_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeline-go/lifeline/status"
)

// TestAccess is the access rule of issue 19, for the page and the metrics:
// loopback by connection address, headers that only take access away,
// the Host allow-list, the bearer token.
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
	remote, err := status.New(pool, status.WithBearerToken(token), status.WithAllowedHosts("status.example.com", "10.0.0.5", "::1"))
	if err != nil {
		t.Fatal(err)
	}
	anyHost, err := status.New(pool, status.WithBearerToken(token), status.WithAllowedHosts("*"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		h          *status.Handler
		remoteAddr string
		host       string // "" = 127.0.0.1:8080
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
		// Headers never grant access: a remote client that claims loopback stays remote.
		{name: "remote claims loopback", h: open, remoteAddr: "192.0.2.1:1234",
			header: http.Header{"X-Forwarded-For": {"127.0.0.1"}, "X-Real-Ip": {"127.0.0.1"}}, want: 403},

		// Host allow-list (DNS rebinding).
		{name: "host localhost", h: open, remoteAddr: "127.0.0.1:1234", host: "localhost", want: 200},
		{name: "host localhost port", h: open, remoteAddr: "127.0.0.1:1234", host: "localhost:8080", want: 200},
		{name: "host LOCALHOST", h: open, remoteAddr: "127.0.0.1:1234", host: "LocalHost:8080", want: 200},
		{name: "host localhost dot", h: open, remoteAddr: "127.0.0.1:1234", host: "localhost.:8080", want: 200},
		{name: "host 127.0.0.1", h: open, remoteAddr: "127.0.0.1:1234", host: "127.0.0.1", want: 200},
		{name: "host [::1]", h: open, remoteAddr: "[::1]:1234", host: "[::1]", want: 200},
		{name: "host [::1] port", h: open, remoteAddr: "[::1]:1234", host: "[::1]:8080", want: 200},
		{name: "host [0:0::1] port", h: open, remoteAddr: "[::1]:1234", host: "[0:0::1]:8080", want: 200},
		{name: "host evil", h: open, remoteAddr: "127.0.0.1:1234", host: "evil.example", want: 403},
		{name: "host evil port", h: open, remoteAddr: "127.0.0.1:1234", host: "evil.example:8080", want: 403},
		{name: "host localhost suffix", h: open, remoteAddr: "127.0.0.1:1234", host: "localhost.evil.example", want: 403},
		{name: "host localhost prefix", h: open, remoteAddr: "127.0.0.1:1234", host: "evil-localhost", want: 403},
		{name: "host other loopback ip", h: open, remoteAddr: "127.0.0.1:1234", host: "127.0.0.2", want: 403},
		{name: "host bare v6", h: open, remoteAddr: "[::1]:1234", host: "::1", want: 403},
		{name: "host bad port", h: open, remoteAddr: "127.0.0.1:1234", host: "localhost:80x", want: 403},
		{name: "host empty port", h: open, remoteAddr: "127.0.0.1:1234", host: "localhost:", want: 200},
		{name: "host unclosed bracket", h: open, remoteAddr: "[::1]:1234", host: "[::1", want: 403},
		{name: "host empty", h: open, remoteAddr: "127.0.0.1:1234", host: "-", want: 403},

		// Token.
		{name: "token", h: locked, remoteAddr: "192.0.2.1:1234",
			header: http.Header{"Authorization": {"Bearer " + token}}, want: 200},
		{name: "token scheme case", h: locked, remoteAddr: "192.0.2.1:1234",
			header: http.Header{"Authorization": {"bEARER " + token}}, want: 200},
		{name: "token extra spaces", h: locked, remoteAddr: "192.0.2.1:1234",
			header: http.Header{"Authorization": {"Bearer   " + token}}, want: 200},
		{name: "token proxied", h: locked, remoteAddr: "127.0.0.1:1234",
			header: http.Header{"Authorization": {"Bearer " + token}, "X-Forwarded-For": {"203.0.113.9"}}, want: 200},
		{name: "token rebinding host", h: locked, remoteAddr: "127.0.0.1:1234", host: "evil.example",
			header: http.Header{"Authorization": {"Bearer " + token}}, want: 403},
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

		// WithAllowedHosts replaces the loopback names.
		{name: "listed name", h: remote, remoteAddr: "192.0.2.1:1234", host: "Status.Example.com:443",
			header: http.Header{"Authorization": {"Bearer " + token}}, want: 200},
		{name: "listed ip", h: remote, remoteAddr: "192.0.2.1:1234", host: "10.0.0.5:8080",
			header: http.Header{"Authorization": {"Bearer " + token}}, want: 200},
		{name: "listed v6 unbracketed", h: remote, remoteAddr: "192.0.2.1:1234", host: "[::1]:8080",
			header: http.Header{"Authorization": {"Bearer " + token}}, want: 200},
		{name: "default name no longer listed", h: remote, remoteAddr: "192.0.2.1:1234", host: "localhost",
			header: http.Header{"Authorization": {"Bearer " + token}}, want: 403},
		{name: "any host", h: anyHost, remoteAddr: "192.0.2.1:1234", host: "whatever.example",
			header: http.Header{"Authorization": {"Bearer " + token}}, want: 200},
		{name: "any host no token", h: anyHost, remoteAddr: "192.0.2.1:1234", host: "whatever.example", want: 401},
	}
	// Every forwarding header takes loopback access away, whatever its case,
	// with '_' for '-', and whatever its value (issue 19: X-Client-IP,
	// True-Client-IP, CF-Connecting-IP and X_Forwarded_For passed).
	for _, name := range []string{
		"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port",
		"X-Forwarded-Server", "X-Forwarded", "X-Original-Forwarded-For", "X-Real-IP", "X-Client-IP",
		"True-Client-IP", "CF-Connecting-IP", "X-Cluster-Client-IP", "Fastly-Client-IP", "Client-IP",
		"X-Originating-IP", "X-Remote-IP", "X-Remote-Addr", "X-ProxyUser-IP", "Via",
		"X_Forwarded_For", "x_real_ip", "X_CLIENT_IP", "true_client_ip", "cf_connecting_ip", "FORWARDED",
		"x-forwarded-for", "X-FORWARDED-FOR", "x-cluster-client-ip", "FASTLY-CLIENT-IP",
	} {
		for _, v := range []string{"203.0.113.9", "127.0.0.1", ""} {
			tests = append(tests, struct {
				name       string
				h          *status.Handler
				remoteAddr string
				host       string
				header     http.Header
				want       int
			}{name: "proxied " + name + "=" + v, h: open, remoteAddr: "127.0.0.1:1234",
				header: http.Header{name: {v}}, want: 403}) // raw key: not canonicalised, as a server may pass it
		}
	}
	// Headers that are not forwarding headers change nothing.
	for _, name := range []string{"X-Request-Id", "User-Agent", "Referer", "X-Forward", "Origin"} {
		tests = append(tests, struct {
			name       string
			h          *status.Handler
			remoteAddr string
			host       string
			header     http.Header
			want       int
		}{name: "not forwarding " + name, h: open, remoteAddr: "127.0.0.1:1234",
			header: http.Header{name: {"x"}}, want: 200})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, target := range []string{"/status", "/status?json&full"} {
				r := httptest.NewRequest(http.MethodGet, target, nil)
				r.RemoteAddr = tt.remoteAddr
				switch tt.host {
				case "":
					r.Host = "127.0.0.1:8080"
				case "-":
					r.Host = ""
				default:
					r.Host = tt.host
				}
				for k, v := range tt.header {
					r.Header[k] = v
				}
				handlers := map[string]http.Handler{"page": tt.h, "metrics": tt.h.Metrics(),
					"listing": tt.h.Access().Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
						io.WriteString(w, "accepted_runs")
					}))}
				for name, h := range handlers {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != tt.want {
						t.Errorf("%s %s: code = %d, want %d (%q)", name, target, w.Code, tt.want, w.Body.String())
					}
					if tt.want == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer ") {
						t.Errorf("%s: WWW-Authenticate = %q, want a Bearer challenge", name, w.Header().Get("WWW-Authenticate"))
					}
					if tt.want != 200 && strings.Contains(w.Body.String(), "accepted_runs") {
						t.Errorf("%s: a refused request got the status: %q", name, w.Body.String())
					}
				}
				err := tt.h.Access().Check(r)
				if (err == nil) != (tt.want == 200) {
					t.Errorf("Check = %v, want error %v", err, tt.want != 200)
				}
				var ae *status.AccessError
				if tt.want != 200 && (!errors.Is(err, status.ErrAccessDenied) || !errors.As(err, &ae) || ae.Code != tt.want) {
					t.Errorf("Check = %#v, want an *AccessError with code %d matching ErrAccessDenied", err, tt.want)
				}
			}
		})
	}
}

// TestBearerTokenFile reads the token from a file once, at New; the
// errors never quote the file (issue 19: argv is visible in ps).
func TestBearerTokenFile(t *testing.T) {
	pool := newPool(t)
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		wantErr bool
		warn    bool
	}{
		{name: "plain", path: write("plain", "tok3n", 0o600)},
		{name: "newline", path: write("newline", "tok3n\n", 0o600)},
		{name: "crlf and spaces", path: write("crlf", "tok3n \r\n\r\n", 0o600)},
		{name: "readable by others", path: write("open", "tok3n\n", 0o644), warn: true},
		{name: "two lines", path: write("two", "tok3n\nsecond-SECRET\n", 0o600), wantErr: true},
		{name: "empty", path: write("empty", "", 0o600), wantErr: true},
		{name: "space inside", path: write("space", "tok 3n-SECRET", 0o600), wantErr: true},
		{name: "too long", path: write("long", strings.Repeat("a", 5000), 0o600), wantErr: true},
		{name: "missing", path: filepath.Join(dir, "nope"), wantErr: true},
		{name: "empty path", path: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logBuf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logBuf, nil))
			h, err := status.New(pool, status.WithBearerTokenFile(tt.path), status.WithLogger(log))
			if tt.wantErr {
				if !errors.Is(err, status.ErrInvalidOption) {
					t.Fatalf("New = %v, want ErrInvalidOption", err)
				}
				if strings.Contains(err.Error(), "SECRET") {
					t.Errorf("the error quotes the file: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(logBuf.String(), "readable by other users"); got != tt.warn {
				t.Errorf("warning logged = %v, want %v:\n%s", got, tt.warn, logBuf.String())
			}
			for auth, want := range map[string]int{"Bearer tok3n": 200, "Bearer tok3n\n": 401, "": 401} {
				r := httptest.NewRequest(http.MethodGet, "/status?json", nil)
				r.Host, r.RemoteAddr = "localhost", "192.0.2.1:1"
				if auth != "" {
					r.Header.Set("Authorization", auth)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != want {
					t.Errorf("Authorization %q: code = %d, want %d", auth, w.Code, want)
				}
			}
		})
	}
	if _, err := status.New(pool, status.WithBearerToken("a"), status.WithBearerTokenFile(write("both", "b", 0o600))); !errors.Is(err, status.ErrInvalidOption) {
		t.Errorf("New with both token options = %v, want ErrInvalidOption", err)
	}
}

// TestAccessURI: Access.URI hides query strings unless WithQueryStrings.
func TestAccessURI(t *testing.T) {
	for _, tt := range []struct {
		opts []status.Option
		uri  string
		want string
	}{
		{uri: "/a?token=SECRET123", want: "/a"},
		{uri: "/a#frag", want: "/a"},
		{uri: "/a", want: "/a"},
		{opts: []status.Option{status.WithQueryStrings(true)}, uri: "/a?token=SECRET123", want: "/a?token=SECRET123"},
	} {
		a, err := status.NewAccess(tt.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.URI(tt.uri); got != tt.want {
			t.Errorf("URI(%q) = %q, want %q", tt.uri, got, tt.want)
		}
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
		{name: "no hosts", opts: []status.Option{status.WithAllowedHosts()}, want: status.ErrInvalidOption},
		{name: "host with port", opts: []status.Option{status.WithAllowedHosts("localhost:8080")}, want: status.ErrInvalidOption},
		{name: "host with path", opts: []status.Option{status.WithAllowedHosts("a/b")}, want: status.ErrInvalidOption},
		{name: "empty host", opts: []status.Option{status.WithAllowedHosts("")}, want: status.ErrInvalidOption},
		{name: "v6 zone", opts: []status.Option{status.WithAllowedHosts("[fe80::1%eth0]")}, want: status.ErrInvalidOption},
		{name: "valid hosts", opts: []status.Option{status.WithAllowedHosts("localhost", "[::1]", "::1", "127.0.0.1", "status.example.com.", "*")}},
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
