package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/redistest"
)

// Two servers with databases of their own and sessions in one Redis
// (-redis) share the sessions and their locks: a request on B waits for
// the lock that a request on A holds, and continues its count. The log
// names the Redis without its password.
func TestSessionsInRedis(t *testing.T) {
	rs := redistest.Start(t)
	url := "redis://" + rs.Addr() + "/0"
	a := startServer(t, "-redis", url)
	b := startServer(t, "-redis", url)
	c := newClient(t, "HTTP/1.1") // one cookie jar: both servers are 127.0.0.1
	if first := sessionCall(t, c, a.base+"/demo/session?hold=0s"); first.Visits != 1 {
		t.Fatalf("first visit = %d, want 1", first.Visits)
	}
	const hold = 400 * time.Millisecond
	ac := make(chan sessionAnswer, 1)
	go func() { ac <- sessionCall(t, c, fmt.Sprintf("%s/demo/session?hold=%v", a.base, hold)) }()
	waitActive(t, a, "session", func(r runJSON) bool { return strings.HasPrefix(r.Notes["session"], "locked") })
	onB := sessionCall(t, c, b.base+"/demo/session?hold=0s")
	onA := <-ac
	if t.Failed() {
		return
	}
	if end := onA.LockedAt.Add(hold); onB.LockedAt.Before(end) {
		t.Errorf("B locked the session at %v, before A's work ended at %v", onB.LockedAt, end)
	}
	if onA.Visits != 2 || onB.Visits != 3 {
		t.Errorf("visits: A %d, B %d; want 2 and 3", onA.Visits, onB.Visits)
	}
	if want := "sessions=" + url; !strings.Contains(a.stderr.String(), want) {
		t.Errorf("the log does not say %q:\n%s", want, a.stderr)
	}
}

// A Redis URL that is malformed, of another scheme or that no Redis
// answers stops the server at start with a message naming -redis, and
// neither the message, the log nor -help shows the URL's password.
func TestRedisFlag(t *testing.T) {
	const secret = "s3cr3t-pw"
	closed := func() string { // a loopback port nothing listens on
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}()
	for _, tc := range []struct {
		name  string
		args  []string
		env   string // $LIFELINE_REDIS_URL
		usage bool   // a command-line error (errUsage); else one at start, or none for -h
		msg   string
	}{
		{"malformed", []string{"-redis", "redis://u:" + secret + "@127.0.0.1:port"}, "", true, "-redis: not a valid URL (not shown"},
		{"scheme", []string{"-redis", "http://u:" + secret + "@127.0.0.1:6379"}, "", true, `-redis http://u:xxxxx@127.0.0.1:6379: scheme "http"`},
		{"database number", []string{"-redis", "redis://u:" + secret + "@127.0.0.1:6379/x"}, "", true, "invalid database number"},
		{"from the environment", nil, "redis://u:" + secret + "@127.0.0.1:6379/x", true, "-redis redis://u:xxxxx@127.0.0.1:6379/x"},
		{"unreachable", []string{"-addr", "127.0.0.1:0", "-redis", "redis://u:" + secret + "@" + closed}, "", false, "-redis redis://u:xxxxx@" + closed + ": dial tcp"},
		{"help", []string{"-h"}, "redis://u:" + secret + "@127.0.0.1:6379", false, "default $LIFELINE_REDIS_URL"},
		{"lock ttl", []string{"-session-lock-ttl", "10ms"}, "", true, "-session-lock-ttl 10ms: must be at least 1s"},
		{"lock ttl too long", []string{"-session-lock-ttl", "10m"}, "", true, "-session-lock-ttl 10m0s: must be at most 5m0s"},
		// A password with '/', '?' or '#' not percent-encoded ends the URL's
		// authority early: what follows the digits is its path, query or
		// fragment, shown by a redacted URL and quoted by go-redis's errors.
		{"slash in the password", []string{"-redis", "redis://:2468/" + secret + "@127.0.0.1:6379"}, "", true, "percent-encoded"},
		{"question mark in the password", []string{"-redis", "redis://:2468?" + secret + "@127.0.0.1:6379"}, "", true, "percent-encoded"},
		{"hash in the password", []string{"-redis", "redis://:2468#" + secret + "@127.0.0.1:6379"}, "", true, "percent-encoded"},
		{"slash in a unix socket's password", []string{"-redis", "unix://:2468/" + secret + "@/tmp/redis.sock"}, "", true, "percent-encoded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(redisEnv, tc.env)
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := run(ctx, append([]string{"-data", t.TempDir()}, tc.args...), &stdout, &stderr)
			switch {
			case tc.name == "help" && err != nil:
				t.Errorf("run = %v, want nil", err)
			case tc.name != "help" && err == nil:
				t.Errorf("run = nil, want an error")
			case errors.Is(err, errUsage) != tc.usage:
				t.Errorf("run = %v: a usage error is %v, want %v", err, errors.Is(err, errUsage), tc.usage)
			}
			all := stdout.String() + stderr.String() + fmt.Sprint(err)
			if !strings.Contains(all, tc.msg) {
				t.Errorf("the output and error do not say %q:\n%s", tc.msg, all)
			}
			if strings.Contains(all, secret) {
				t.Errorf("the output or error shows the password:\n%s", all)
			}
		})
	}
}

// TestParseRedisURL: a password percent-encoded, with '/', '?' or '#' in
// it, reaches the client whole and is not shown; a socket path with an '@'
// in it (a systemd instance's) is taken as it is.
func TestParseRedisURL(t *testing.T) {
	for _, tc := range []struct {
		raw, password, addr, where string
	}{
		{"redis://:2468%2Fs3cr3t%3Fpw%23x@127.0.0.1:6379/2", "2468/s3cr3t?pw#x", "127.0.0.1:6379", "redis://:xxxxx@127.0.0.1:6379/2"},
		{"unix:///run/redis@main/redis.sock", "", "/run/redis@main/redis.sock", "unix:///run/redis@main/redis.sock"},
		{"unix://u:p%2Fq@/run/redis@main/redis.sock", "p/q", "/run/redis@main/redis.sock", "unix://u:xxxxx@/run/redis@main/redis.sock"},
	} {
		opts, where, err := parseRedisURL(tc.raw)
		if err != nil {
			t.Errorf("%s: %v", tc.raw, err)
			continue
		}
		if opts.Password != tc.password || opts.Addr != tc.addr || where != tc.where {
			t.Errorf("%s: password %q, address %q, shown as %q; want %q, %q, %q", tc.raw, opts.Password, opts.Addr, where, tc.password, tc.addr, tc.where)
		}
	}
}
