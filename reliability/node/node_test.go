package node_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/redistest"
	"github.com/lifeline-go/lifeline/reliability/node"
)

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  node.Config
	}{
		{"no redis", node.Config{}},
		{"negative limit", node.Config{RedisAddr: "127.0.0.1:1", TimeLimit: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := node.New(tt.cfg); !errors.Is(err, node.ErrInvalidConfig) {
				t.Errorf("New(%+v) = %v, want ErrInvalidConfig", tt.cfg, err)
			}
		})
	}
}

// get sends a request and returns status, Idempotent-Replayed and body.
func get(t *testing.T, c *http.Client, method, url string, h http.Header) (int, bool, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Idempotent-Replayed") == "true", string(body)
}

func TestRoutes(t *testing.T) {
	rs := redistest.Start(t)
	n, err := node.New(node.Config{Name: "t", RedisAddr: rs.Addr(), StoreTimeout: 300 * time.Millisecond, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(n.Handler())
	defer func() {
		ts.Close()
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	}()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	for want := 1; want <= 3; want++ {
		code, _, body := get(t, c, "GET", ts.URL+"/incr", nil)
		var a struct{ N int }
		if err := json.Unmarshal([]byte(body), &a); code != http.StatusOK || err != nil || a.N != want {
			t.Fatalf("/incr #%d: %d %s, want n = %d", want, code, body, want)
		}
	}
	key := http.Header{"Idempotency-Key": {"k1"}}
	code1, rep1, body1 := get(t, c, "POST", ts.URL+"/order", key)
	code2, rep2, body2 := get(t, c, "POST", ts.URL+"/order", key)
	if code1 != http.StatusCreated || rep1 || code2 != http.StatusCreated || !rep2 || body1 != body2 {
		t.Errorf("order twice: %d %v %s / %d %v %s; want 201 then its replay", code1, rep1, body1, code2, rep2, body2)
	}
	_, _, eff := get(t, c, "GET", ts.URL+"/effects", nil)
	if strings.TrimSpace(eff) != `{"k1":1}` {
		t.Errorf("/effects = %s, want {\"k1\":1}", eff)
	}
	rs.Kill()
	for _, tc := range []struct{ method, path string }{{"GET", "/incr"}, {"POST", "/order"}} {
		start := time.Now()
		code, _, body := get(t, c, tc.method, ts.URL+tc.path, http.Header{"Idempotency-Key": {"k2"}})
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "unavailable") || time.Since(start) > 2*time.Second {
			t.Errorf("%s %s with Redis down: %d %s after %v; want 503 naming the store within 2s", tc.method, tc.path, code, body, time.Since(start))
		}
	}
}
