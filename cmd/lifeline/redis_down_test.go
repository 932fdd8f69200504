package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-go/lifeline/internal/redistest"
)

// requirePass makes the Redis at addr ask for password, as a production
// one does.
func requirePass(t *testing.T, addr, password string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	if err := c.ConfigSet(context.Background(), "requirepass", password).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestRedisDownMidRun: the sessions' Redis, password-protected, killed
// while the server runs: a session request gets 503 "session store
// unavailable" with Retry-After and an id, the server goes on serving what
// needs no session, and once Redis is back sessions work again; the
// password appears in no answer, listing, status page nor log line.
func TestRedisDownMidRun(t *testing.T) {
	const secret = "s3cr3t-pw-down"
	rs := redistest.Start(t)
	requirePass(t, rs.Addr(), secret)
	ts := startServer(t, "-v", "-redis", "redis://:"+secret+"@"+rs.Addr()+"/0")
	c := newClient(t, "HTTP/1.1")
	if first := sessionCall(t, c, ts.base+"/demo/session?hold=0s"); first.Visits != 1 {
		t.Fatalf("first visit = %d, want 1", first.Visits)
	}
	var seen strings.Builder
	rs.Kill()
	resp := do(t, c, http.MethodGet, ts.base+"/demo/session?hold=0s", nil)
	seen.WriteString(resp.body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(resp.body, "session store unavailable") || !strings.Contains(resp.body, "(id ") {
		t.Errorf("session with Redis down: %s Retry-After %q %q; want 503 session store unavailable with an id and Retry-After",
			resp.Status, resp.Header.Get("Retry-After"), resp.body)
	}
	if strings.Contains(resp.body, rs.Addr()) {
		t.Errorf("the answer names the Redis: %q", resp.body)
	}
	if resp := do(t, c, http.MethodGet, ts.base+"/demo/finish?work=0s", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("a route without session while Redis is down: %s", resp.Status)
	}
	rs.Restart()
	requirePass(t, rs.Addr(), secret)
	// go-redis drops the dead connections and dials again (it retries a
	// command that failed on the network): the next session works.
	if back := sessionCall(t, c, ts.base+"/demo/session?hold=0s"); back.Visits < 1 {
		t.Errorf("session after Redis came back: %+v", back)
	}
	for _, path := range []string{"/status", "/status?json&full", "/demo/runs"} {
		seen.WriteString(get(t, c, ts.base+path).body)
	}
	if err := ts.stop(t); err != nil {
		t.Errorf("stop: %v", err)
	}
	seen.WriteString(ts.stderr.String())
	seen.WriteString(ts.stdout.String())
	if strings.Contains(seen.String(), secret) {
		t.Errorf("the password appears in an answer, a listing or the log:\n%s", seen.String())
	}
	if !strings.Contains(ts.stderr.String(), "redis://:xxxxx@"+rs.Addr()) {
		t.Errorf("the log does not name the Redis with its password hidden:\n%s", ts.stderr)
	}
}
