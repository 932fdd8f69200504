package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/syncbuf"
	"github.com/lifeline-go/lifeline/session"
)

// The findings of issue 19, tried as an adversary would against the
// reference server on loopback. docs/SECURITY.md is the threat model.

// send sends one request with a fresh HTTP/1.1 client: host "" keeps the
// URL's, body nil sends none. It returns the code and the body.
func send(t *testing.T, method, url, host string, hdr http.Header, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	c := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// showsRuns are the paths that show what the runs did: one access rule
// for all (issue 19: /demo/runs answered any client).
var showsRuns = []string{"/status", "/status?json&full", "/metrics", "/demo/runs", "/demo/orders", "/demo/jobs"}

// TestListingsAccess: every path that shows runs refuses a forwarded
// request, a rebinding Host, and a request without the token when there
// is one.
func TestListingsAccess(t *testing.T) {
	ts := startServer(t)
	tests := []struct {
		name string
		host string
		hdr  http.Header
		want int
	}{
		{name: "loopback", want: 200},
		{name: "host localhost", host: "localhost", want: 200},
		{name: "host evil.example", host: "evil.example", want: 403},
		{name: "host evil.example port", host: "evil.example:8080", want: 403},
		{name: "host 127.0.0.1.nip.io", host: "127.0.0.1.nip.io", want: 403},
	}
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP", "X-Client-IP",
		"True-Client-IP", "CF-Connecting-IP", "X-Cluster-Client-IP", "Fastly-Client-IP", "X_Forwarded_For",
		"x_real_ip", "Via"} {
		tests = append(tests, struct {
			name string
			host string
			hdr  http.Header
			want int
		}{name: "header " + h, hdr: http.Header{h: {"8.8.8.8"}}, want: 403})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range showsRuns {
				code, body := send(t, http.MethodGet, ts.base+path, tt.host, tt.hdr, nil)
				if code != tt.want {
					t.Errorf("GET %s: %d %.100q, want %d", path, code, body, tt.want)
				}
			}
		})
	}
	t.Run("token", func(t *testing.T) {
		for _, src := range []string{"flag", "file", "env"} {
			t.Run(src, func(t *testing.T) {
				const token = "s3cret-T0ken"
				var ts *testServer
				switch src {
				case "flag":
					ts = startServer(t, "-status-token", token)
				case "file":
					file := filepath.Join(t.TempDir(), "token")
					if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
						t.Fatal(err)
					}
					ts = startServer(t, "-status-token-file", file)
				case "env":
					t.Setenv(statusTokenEnv, token)
					ts = startServer(t)
				}
				for _, path := range showsRuns {
					if code, _ := send(t, http.MethodGet, ts.base+path, "", nil, nil); code != http.StatusUnauthorized {
						t.Errorf("GET %s without the token: %d, want 401", path, code)
					}
					auth := http.Header{"Authorization": {"Bearer " + token}}
					if code, _ := send(t, http.MethodGet, ts.base+path, "", auth, nil); code != http.StatusOK {
						t.Errorf("GET %s with the token: %d, want 200", path, code)
					}
				}
				warned := strings.Contains(ts.stderr.String(), "-status-token is visible")
				if warned != (src == "flag") {
					t.Errorf("warning about argv logged = %v, want %v:\n%s", warned, src == "flag", ts.stderr)
				}
			})
		}
	})
}

// TestTokenFlags: the token options that cannot work are refused before
// the server listens, and the errors never quote the token.
func TestTokenFlags(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("two words-SECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"both", []string{"-status-token", "a", "-status-token-file", bad}, "-status-token and -status-token-file: give one"},
		{"missing file", []string{"-status-token-file", filepath.Join(dir, "nope")}, "WithBearerTokenFile"},
		{"bad file", []string{"-status-token-file", bad}, "not an RFC 6750 b64token"},
		{"no hosts", []string{"-allowed-hosts", " , "}, "-allowed-hosts: no host"},
		{"host with port", []string{"-allowed-hosts", "localhost:8080"}, "WithAllowedHosts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"-addr", "127.0.0.1:0", "-data", t.TempDir()}, tc.args...)
			err := run(context.Background(), args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("run = %v, want an error saying %q", err, tc.msg)
			}
			if strings.Contains(fmt.Sprint(err)+stderr.String(), "SECRET") {
				t.Errorf("the token file's content is quoted: %v\n%s", err, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing: the server must not listen", stdout.String())
			}
		})
	}
}

// TestQueryStringsHidden: a secret in a query string, of an accepted
// request or of one rejected with 400, appears in no listing unless
// -status-query-strings (issue 19: ...&token=SECRET123 on /demo/runs).
func TestQueryStringsHidden(t *testing.T) {
	for _, show := range []bool{false, true} {
		t.Run(fmt.Sprint("show=", show), func(t *testing.T) {
			var extra []string
			if show {
				extra = append(extra, "-status-query-strings")
			}
			ts := startServer(t, append(extra, "-v")...)
			if code, _ := send(t, http.MethodGet, ts.base+"/demo/stream?lines=1&token=SECRET123", "", nil, nil); code != 400 {
				t.Fatalf("unknown parameter: %d, want 400", code)
			}
			if code, _ := send(t, http.MethodGet, ts.base+"/demo/timeout?limit=0s&busy=0s&mode=sleep", "", nil, nil); code != 200 {
				t.Fatalf("timeout demo: %d, want 200", code)
			}
			waitRecord(t, ts, "stream", func(runJSON) bool { return true })
			waitRecord(t, ts, "timeout", func(runJSON) bool { return true })
			for _, path := range []string{"/status", "/status?json&full", "/demo/runs"} {
				_, body := send(t, http.MethodGet, ts.base+path, "", nil, nil)
				if got := strings.Contains(body, "SECRET123"); got != show {
					t.Errorf("GET %s shows the query = %v, want %v", path, got, show)
				}
				if !strings.Contains(body, "/demo/stream") {
					t.Errorf("GET %s does not show the run at all:\n%.300s", path, body)
				}
			}
			if err := ts.stop(t); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(ts.stderr.String(), "SECRET123"); got != show {
				t.Errorf("the -v log shows the query = %v, want %v", got, show)
			}
		})
	}
}

// TestCrossSite: state-changing requests that a browser sends across sites
// or under a rebound name are refused (http.CrossOriginProtection plus the
// Host allow-list); same-origin ones and non-browser clients pass.
func TestCrossSite(t *testing.T) {
	ts := startServer(t)
	host := strings.TrimPrefix(ts.base, "http://")
	for _, tc := range []struct {
		name   string
		method string
		host   string
		hdr    http.Header
		want   int
	}{
		{name: "no browser headers", method: "POST", want: 201},
		{name: "same-origin fetch", method: "POST", hdr: http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {ts.base}}, want: 201},
		{name: "typed in", method: "POST", hdr: http.Header{"Sec-Fetch-Site": {"none"}}, want: 201},
		{name: "same origin, old browser", method: "POST", hdr: http.Header{"Origin": {ts.base}}, want: 201},
		{name: "cross-site", method: "POST", hdr: http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}, want: 403},
		{name: "same-site", method: "POST", hdr: http.Header{"Sec-Fetch-Site": {"same-site"}, "Origin": {"http://localhost:1"}}, want: 403},
		{name: "cross origin, old browser", method: "POST", hdr: http.Header{"Origin": {"https://evil.example"}}, want: 403},
		{name: "rebinding", method: "POST", host: "evil.example:" + host[strings.LastIndexByte(host, ':')+1:],
			hdr: http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {"http://evil.example:" + host[strings.LastIndexByte(host, ':')+1:]}}, want: 403},
		{name: "rebinding, old browser", method: "POST", host: "evil.example",
			hdr: http.Header{"Origin": {"http://evil.example"}}, want: 403},
		{name: "cross-site GET passes", method: "GET", hdr: http.Header{"Sec-Fetch-Site": {"cross-site"}}, want: 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := send(t, tc.method, ts.base+"/demo/order?work=0s", tc.host, tc.hdr, nil)
			if code != tc.want {
				t.Errorf("%s /demo/order: %d %.200q, want %d", tc.method, code, body, tc.want)
			}
		})
	}
}

// TestStrictParams: what net/http would ignore silently is a 400 (issue
// 19: ;-separated parameters ran with defaults, a multipart order body and
// an unknown field were ignored).
func TestStrictParams(t *testing.T) {
	ts := startServer(t)
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("work", "0s")
	_ = mw.Close()
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, method, path, ctype, body string
		want                            int
		msg                             string
	}{
		{"semicolon", "GET", "/demo/finish?work=1s;pad=1", "", "", 400, "semicolon"},
		{"semicolon stream", "GET", "/demo/stream?lines=1;every=0s", "", "", 400, "semicolon"},
		{"bad escape", "GET", "/demo/timeout?limit=%zz", "", "", 400, "invalid URL escape"},
		{"semicolon listing", "GET", "/demo/runs?route=stream;x=1", "", "", 400, "semicolon"},
		{"semicolon status", "GET", "/status?json;full", "", "", 400, "semicolon"},
		{"unknown status parameter", "GET", "/status?json&ful", "", "", 400, "unknown parameter"},
		{"order query semicolon", "POST", "/demo/order?work=0s;ref=x", "", "", 400, "semicolon"},
		{"order form semicolon", "POST", "/demo/order", form, "work=0s;ref=x", 400, "semicolon"},
		{"order form unknown field", "POST", "/demo/order", form, "work=0s&color=red", 400, `"color": unknown parameter`},
		{"order multipart", "POST", "/demo/order", mw.FormDataContentType(), mp.String(), 400, "multipart bodies are not accepted"},
		{"order json", "POST", "/demo/order", "application/json", `{"work":"0s"}`, 400, `"application/json" is not accepted`},
		{"order text", "POST", "/demo/order", "text/plain", "work=0s", 400, "is not accepted"},
		{"order untyped body", "POST", "/demo/order", "", "work=0s", 400, "a body needs Content-Type"},
		{"order bad type", "POST", "/demo/order", "a/b; c", "work=0s", 400, "malformed Content-Type"},
		{"order form", "POST", "/demo/order", form, "work=0s", 201, "placed"},
		{"order form charset", "POST", "/demo/order", form + "; charset=utf-8", "work=0s", 201, "placed"},
		{"order query", "POST", "/demo/order?work=0s", "", "", 201, "placed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			var hdr http.Header
			if tc.ctype != "" {
				hdr = http.Header{"Content-Type": {tc.ctype}}
			}
			code, got := send(t, tc.method, ts.base+tc.path, "", hdr, body)
			if code != tc.want || !strings.Contains(got, tc.msg) {
				t.Errorf("answer %d %q, want %d containing %q", code, got, tc.want, tc.msg)
			}
		})
	}
}

// errorBody is the whole body of an internal error: a short message and an
// id, nothing of the error itself.
var errorBody = regexp.MustCompile(`^([a-z ;:]+) \(id ([0-9a-f]{16})\)\n$`)

// newTestApp builds the app in-process, with its log in a buffer, and
// serves its routes on 127.0.0.1; both are closed when the test ends.
func newTestApp(t *testing.T) (*app, *httptest.Server, *syncbuf.Buffer) {
	t.Helper()
	var logBuf syncbuf.Buffer
	cfg, err := parseFlags([]string{"-data", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(context.Background(), cfg, slog.New(slog.NewTextHandler(&logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.routes())
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.pool.Shutdown(ctx); err != nil {
			t.Errorf("pool.Shutdown: %v", err)
		}
		if err := a.close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return a, srv, &logBuf
}

// closeDB breaks the app's database as a lost disk or server would: every
// statement fails with "sql: database is closed".
func closeDB(t *testing.T, a *app) {
	t.Helper()
	if err := a.db.DB.Close(); err != nil {
		t.Fatal(err)
	}
}

// downStore is a session store that cannot be reached, as Redis down is.
type downStore struct{}

var errDown = fmt.Errorf("redisstore: dial tcp 10.9.8.7:6379: %w: connection refused", session.ErrStoreUnavailable)

func (downStore) Load(context.Context, string) ([]byte, error) { return nil, errDown }
func (downStore) Save(context.Context, string, session.LockToken, []byte, time.Duration) error {
	return errDown
}
func (downStore) Touch(context.Context, string, session.LockToken, time.Duration) error {
	return errDown
}
func (downStore) Delete(context.Context, string, session.LockToken) error { return errDown }
func (downStore) Lock(context.Context, string, time.Duration) (session.LockToken, error) {
	return session.LockToken{}, errDown
}
func (downStore) Refresh(context.Context, string, session.LockToken, time.Duration) error {
	return errDown
}
func (downStore) Unlock(context.Context, string, session.LockToken) error { return errDown }

// TestInternalErrors: a client never sees an internal error's text, only
// a short message and an id; the log has the id and the detail (issue 19:
// "500 internal error: write <data dir>/lifeline.db: no space left on
// device", a session 503 carrying the store's address).
func TestInternalErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		breakApp func(t *testing.T, a *app)
		path     string
		code     int
		msg      string
		detail   string // in the log, never in the body
	}{
		{name: "database lost, finish", path: "/demo/finish?work=0s", code: 500, msg: "internal error",
			breakApp: closeDB, detail: "database is closed"},
		{name: "database lost, close-early", path: "/demo/close-early?work=0s", code: 500, msg: "internal error",
			breakApp: closeDB, detail: "database is closed"},
		{name: "database lost, jobs listing", path: "/demo/jobs", code: 500, msg: "internal error",
			breakApp: closeDB, detail: "database is closed"},
		{name: "database lost, orders listing", path: "/demo/orders", code: 500, msg: "internal error",
			breakApp: closeDB, detail: "database is closed"},
		{name: "session store down", path: "/demo/session?hold=0s", code: 503, msg: "session store unavailable; try again",
			breakApp: func(t *testing.T, a *app) {
				m, err := session.New(downStore{}, session.WithLogger(a.log))
				if err != nil {
					t.Fatal(err)
				}
				a.sessions = m
			}, detail: "10.9.8.7:6379"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, srv, logBuf := newTestApp(t)
			tc.breakApp(t, a)
			code, body := send(t, http.MethodGet, srv.URL+tc.path, "", nil, nil)
			m := errorBody.FindStringSubmatch(body)
			if code != tc.code || m == nil || m[1] != tc.msg {
				t.Fatalf("answer %d %q, want %d %q (id ...)", code, body, tc.code, tc.msg)
			}
			for _, leak := range []string{tc.detail, a.cfg.dataDir, sqliteFile, "redisstore", "sqlite"} {
				if strings.Contains(body, leak) {
					t.Errorf("the body %q shows %q", body, leak)
				}
			}
			log := logBuf.String()
			if !strings.Contains(log, "id="+m[2]) || !strings.Contains(log, tc.detail) {
				t.Errorf("the log has not the id %s with %q:\n%s", m[2], tc.detail, log)
			}
		})
	}
}
