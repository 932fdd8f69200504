package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/server"
	"github.com/lifeline-go/lifeline/status"
)

// Malformed, out-of-range, repeated and unknown parameters get 400 with a
// message naming the parameter; unknown paths 404; wrong methods 405.
func TestBadRequests(t *testing.T) {
	eachProtocol(t, func(t *testing.T, ts *testServer, c *http.Client) {
		for _, tc := range []struct {
			method, path string
			code         int
			want         string // in the body
		}{
			{"GET", "/demo/stream?lines=0", 400, `parameter "lines": 0 is out of range`},
			{"GET", "/demo/stream?lines=1001", 400, `parameter "lines"`},
			{"GET", "/demo/stream?lines=ten", 400, `parameter "lines": "ten" is not a whole number`},
			{"GET", "/demo/stream?every=5", 400, `parameter "every": "5" is not a duration`},
			{"GET", "/demo/stream?every=-1s", 400, `parameter "every": -1s is negative`},
			{"GET", "/demo/stream?every=61s", 400, `parameter "every": 1m1s is more than the maximum, 1m0s`},
			{"GET", "/demo/stream?lines=2&lines=3", 400, `parameter "lines": given more than once`},
			{"GET", "/demo/stream?line=2", 400, `parameter "line": unknown parameter; this endpoint takes every, lines`},
			{"POST", "/demo/order?work=1h", 400, `parameter "work"`},
			{"POST", "/demo/order?ref=a%20b", 400, `parameter "ref"`},
			{"POST", "/demo/order?ref=" + strings.Repeat("r", 65), 400, `parameter "ref": is longer than 64 characters`},
			{"GET", "/demo/finish?work=x", 400, `parameter "work"`},
			{"GET", "/demo/finish?pad=2000000", 400, `parameter "pad"`},
			{"GET", "/demo/close-early?work=2m", 400, `parameter "work"`},
			{"GET", "/demo/timeout?limit=1y", 400, `parameter "limit"`},
			{"GET", "/demo/timeout?busy=100s", 400, `parameter "busy"`},
			{"GET", "/demo/timeout?mode=nap", 400, `parameter "mode": "nap" is not one of sleep, spin`},
			{"GET", "/demo/timeout-reset?reset=oops", 400, `parameter "reset"`},
			{"GET", "/demo/timeout-reset?after=-5ms", 400, `parameter "after"`},
			{"GET", "/demo/session?hold=forever", 400, `parameter "hold"`},
			{"GET", "/demo/session?close=maybe", 400, `parameter "close": "maybe" is not a boolean`},
			{"GET", "/demo/runs?route=nope", 400, `parameter "route"`},
			{"GET", "/demo/orders?x=1", 400, `parameter "x": unknown parameter`},
			{"GET", "/demo/jobs?x=1", 400, `parameter "x": unknown parameter`},
			{"GET", "/nope", 404, "404 page not found"},
			{"GET", "/demo/", 404, "404 page not found"},
			{"GET", "/demo/streams", 404, "404 page not found"},
			{"GET", "/index.html", 404, "404 page not found"},
			{"GET", "/demo/order", 405, "Method Not Allowed"},
			{"POST", "/demo/stream", 405, "Method Not Allowed"},
		} {
			t.Run(tc.method+" "+tc.path, func(t *testing.T) {
				resp := do(t, c, tc.method, ts.base+tc.path, nil)
				if resp.StatusCode != tc.code || !strings.Contains(resp.body, tc.want) {
					t.Errorf("answer: %d %q, want %d containing %q", resp.StatusCode, resp.body, tc.code, tc.want)
				}
			})
		}
	})
}

// The index page explains and links every demo.
func TestIndex(t *testing.T) {
	ts := startServer(t)
	resp := get(t, newClient(t, "HTTP/1.1"), ts.base+"/")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("answer: %s, %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	for _, path := range []string{"/demo/stream", "/demo/order", "/demo/orders", "/demo/finish", "/demo/close-early",
		"/demo/jobs", "/demo/timeout", "/demo/timeout-reset", "/demo/session", "/demo/runs"} {
		if !strings.Contains(resp.body, `"`+path) {
			t.Errorf("the index does not link %s", path)
		}
	}
}

// Cancelling run's context while a job works after Finish: the drain waits
// for the job, which completes, and run returns nil (seed: the work "the
// user won't wait for" must not be lost on a restart).
func TestGracefulShutdown(t *testing.T) {
	const work = 500 * time.Millisecond
	ts := startServer(t)
	c := newClient(t, "HTTP/1.1")
	resp := get(t, c, fmt.Sprintf("%s/demo/finish?work=%v", ts.base, work))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("answer: %s %q", resp.Status, resp.body)
	}
	eventually(t, 10*time.Second, "the job to start", func() bool {
		list := jobList(t, ts)
		return len(list) == 1 && list[0].State == "running"
	})
	start := time.Now()
	if err := ts.stop(t); err != nil {
		t.Fatalf("run = %v, want nil after a clean drain\nstderr:\n%s", err, ts.stderr)
	}
	if elapsed := time.Since(start); elapsed < work/4 {
		t.Errorf("run returned %v after the cancel: it did not wait for the job", elapsed)
	}
	if states := restartJobStates(t, ts); states["completed"] != 1 {
		t.Errorf("jobs after the shutdown = %v, want one completed", states)
	}
	if out := ts.stdout.String(); !strings.Contains(out, "stopped: 1 runs") {
		t.Errorf("stdout = %q, want the summary line", out)
	}
}

// A job longer than the drain deadline is cancelled and left to River,
// which makes it available again: it is not lost, and the next start runs
// it (seed: a deploy that does not wait must not lose the work).
func TestShutdownDrainDeadline(t *testing.T) {
	ts := startServer(t, "-drain", "100ms")
	c := newClient(t, "HTTP/1.1")
	if resp := get(t, c, ts.base+"/demo/finish?work=30s"); resp.StatusCode != http.StatusOK {
		t.Fatalf("answer: %s %q", resp.Status, resp.body)
	}
	eventually(t, 10*time.Second, "the job to start", func() bool {
		list := jobList(t, ts)
		return len(list) == 1 && list[0].State == "running"
	})
	if err := ts.stop(t); err != nil {
		t.Fatalf("run = %v, want nil: the pool drained, the job is River's\nstderr:\n%s", err, ts.stderr)
	}
	states := restartJobStates(t, ts)
	if states["available"]+states["retryable"]+states["running"] != 1 || states["completed"] != 0 {
		t.Errorf("jobs after the shutdown = %v, want the one job waiting to run again", states)
	}
}

// restartJobStates opens the database of the stopped server of ts, with no
// job worker, and returns how many jobs are in each state.
func restartJobStates(t *testing.T, ts *testServer) map[string]int64 {
	t.Helper()
	db, err := openDatabase(context.Background(), ts.dataDir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.close()
	a := &app{db: db}
	states, err := a.jobCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return states
}

// A second server on the same data directory fails at once with a message
// saying what to do, instead of hanging on the file lock.
func TestDataDirBusy(t *testing.T) {
	ts := startServer(t)
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-data", ts.dataDir}, &stdout, &stderr)
	if !errors.Is(err, errDataDirBusy) || !strings.Contains(err.Error(), "-data") {
		t.Errorf("run = %v, want an error matching errDataDirBusy that mentions -data", err)
	}
}

// The data directory is created when missing, as on a fresh machine.
func TestDataDirCreated(t *testing.T) {
	dir := t.TempDir() + "/fresh/lifeline"
	ts := startServer(t, "-data", dir)
	if resp := get(t, newClient(t, "HTTP/1.1"), ts.base+"/demo/orders"); resp.StatusCode != http.StatusOK {
		t.Errorf("answer: %s %q", resp.Status, resp.body)
	}
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want error // nil: run returns nil without serving
		msg  string
	}{
		{"help", []string{"-h"}, nil, "Usage: lifeline"},
		{"unknown flag", []string{"-port", "80"}, errUsage, "flag provided but not defined: -port"},
		{"argument", []string{"serve"}, errUsage, `unexpected argument "serve"`},
		{"cert without key", []string{"-tls-cert", "c.pem"}, errUsage, "-tls-cert and -tls-key go together"},
		{"negative limit", []string{"-time-limit", "-1s"}, errUsage, "-time-limit -1s: negative"},
		{"negative drain", []string{"-drain", "-1s"}, errUsage, "-drain -1s: negative"},
		{"bad duration", []string{"-drain", "soon"}, errUsage, `invalid value "soon" for flag -drain`},
		{"missing cert", []string{"-addr", "127.0.0.1:0", "-tls-cert", "/nonexistent.pem", "-tls-key", "/nonexistent.pem"}, server.ErrInvalidOption, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"-data", t.TempDir()}, tc.args...)
			err := run(context.Background(), args, &stdout, &stderr)
			switch {
			case tc.want == nil && err != nil:
				t.Errorf("run = %v, want nil", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("run = %v, want an error matching %v", err, tc.want)
			}
			if tc.msg != "" && !strings.Contains(stderr.String()+fmt.Sprint(err), tc.msg) {
				t.Errorf("stderr and error do not say %q:\n%s\n%v", tc.msg, stderr.String(), err)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

// The status page of package status is served at /status and /metrics, to
// loopback clients by default, to holders of the token with -status-token.
func TestStatusPage(t *testing.T) {
	t.Run("loopback", func(t *testing.T) {
		ts := startServer(t)
		c := newClient(t, "HTTP/1.1")
		get(t, c, ts.base+"/demo/timeout?limit=0s&busy=0s") // one run to show
		for _, tc := range []struct{ path, want string }{
			{"/status", "<html"},
			{"/status?json&full", `"route"`},
			{"/metrics", "lifeline_"},
		} {
			resp := get(t, c, ts.base+tc.path)
			if resp.StatusCode != http.StatusOK || !strings.Contains(resp.body, tc.want) {
				t.Errorf("GET %s: %s, body without %q:\n%.300s", tc.path, resp.Status, tc.want, resp.body)
			}
		}
	})
	t.Run("token", func(t *testing.T) {
		ts := startServer(t, "-status-token", "s3cret")
		c := newClient(t, "HTTP/1.1")
		if resp := get(t, c, ts.base+"/status"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("without the token: %s, want 401", resp.Status)
		}
		resp := do(t, c, http.MethodGet, ts.base+"/metrics", http.Header{"Authorization": {"Bearer s3cret"}})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("with the token: %s, want 200", resp.Status)
		}
	})
	t.Run("bad token", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-data", t.TempDir(), "-status-token", "a b"}, &stdout, &stderr)
		if !errors.Is(err, status.ErrInvalidOption) || !strings.Contains(err.Error(), "-status-token") {
			t.Errorf("run = %v, want an error matching status.ErrInvalidOption that names -status-token", err)
		}
	})
}

// With -v, every run's record is logged when it ends.
func TestVerboseLogsRuns(t *testing.T) {
	ts := startServer(t, "-v", "-status-query-strings")
	get(t, newClient(t, "HTTP/1.1"), ts.base+"/demo/stream?lines=1")
	if err := ts.stop(t); err != nil {
		t.Fatal(err)
	}
	if log := ts.stderr.String(); !strings.Contains(log, "lifeline: run ended") || !strings.Contains(log, "/demo/stream?lines=1") {
		t.Errorf("stderr does not log the run:\n%s", log)
	}
}

// TestAdminDuringDrain: with -admin, the status page and the metrics stay
// reachable on their own listener while the main listener is closed and the
// server drains a job, so an operator can watch the drain.
func TestAdminDuringDrain(t *testing.T) {
	ts := startServer(t, "-admin", "127.0.0.1:0")
	var admin string
	eventually(t, 10*time.Second, "the admin line on stdout", func() bool {
		for _, line := range strings.Split(ts.stdout.String(), "\n") {
			if rest, ok := strings.CutPrefix(line, "admin on "); ok {
				admin, _, _ = strings.Cut(rest, " ")
				return true
			}
		}
		return false
	})
	c := newClient(t, "HTTP/1.1")
	if resp := get(t, c, ts.base+"/demo/finish?work=3s"); resp.StatusCode != http.StatusOK {
		t.Fatalf("answer: %s %q", resp.Status, resp.body)
	}
	eventually(t, 10*time.Second, "the job to start", func() bool {
		list := jobList(t, ts)
		return len(list) == 1 && list[0].State == "running"
	})
	ts.stopped = true // stopped here, not by the cleanup
	ts.cancel()
	var h1 http.Protocols
	h1.SetHTTP1(true)
	fresh := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Protocols: &h1, DisableKeepAlives: true}}
	eventually(t, 10*time.Second, "the main listener to close", func() bool {
		_, err := tryDo(fresh, "GET", ts.base+"/", nil)
		return err != nil
	})
	for _, path := range []string{"/status?json", "/metrics"} {
		if resp, err := tryDo(fresh, "GET", admin+path, nil); err != nil {
			t.Errorf("GET %s on the admin listener during the drain: %v", path, err)
		} else if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s on the admin listener during the drain: %s", path, resp.Status)
		}
	}
	select {
	case err := <-ts.done:
		t.Fatalf("the server stopped (%v) before the admin listener was read: the job did not hold the drain", err)
	default:
	}
	select {
	case err := <-ts.done:
		<-ts.outDone
		if err != nil {
			t.Fatalf("run = %v\nstderr:\n%s", err, ts.stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("run did not return within 15s of its context being cancelled\nstderr:\n%s", ts.stderr)
	}
	if _, err := tryDo(fresh, "GET", admin+"/status?json", nil); err == nil {
		t.Error("the admin listener still answers after the server stopped")
	}
}
