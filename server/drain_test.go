package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/syncbuf"
	"github.com/lifeline-go/lifeline/internal/wait"
	"github.com/lifeline-go/lifeline/server"
)

// waitLog waits until the log has a line with every part.
func waitLog(t *testing.T, buf *syncbuf.Buffer, parts ...string) {
	t.Helper()
	wait.For(t, 10*time.Second, fmt.Sprintf("a log line with %q", parts), func() bool { return logHas(buf.String(), parts...) })
}

// get sends a GET in the background; the result arrives on the channel.
func get(url string) <-chan string {
	out := make(chan string, 1)
	go func() {
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(url)
		if err != nil {
			out <- "error: " + err.Error()
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			out <- "error: " + err.Error()
			return
		}
		out <- resp.Status + ": " + string(body)
	}()
	return out
}

// TestDrainClean stops the server while a response is open and while a run
// works after Finish: both complete, and Serve returns nil only after them.
func TestDrainClean(t *testing.T) {
	tests := []struct {
		name   string
		finish bool
	}{
		{name: "open response", finish: false},
		{name: "after Finish", finish: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log, logs := testLogger(t)
			pool := newPool(t, log)
			started, release := make(chan struct{}), make(chan struct{})
			var workDone atomic.Bool
			h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rn, _ := lifeline.FromContext(r.Context())
				_, _ = io.WriteString(w, "done")
				if tt.finish {
					_ = rn.Finish()
				}
				close(started)
				<-release
				workDone.Store(true)
			}))
			srv := start(t, pool, h, server.WithLogger(log))
			resp := get("http://" + srv.addr + "/work")
			<-started
			if tt.finish {
				if got := <-resp; got != "200 OK: done" {
					t.Fatalf("response after Finish = %q, want \"200 OK: done\"", got)
				}
			}
			served := make(chan error, 1)
			go func() { served <- srv.stop() }()
			waitLog(t, logs, "server: draining", "runs=1")
			select {
			case err := <-served:
				t.Fatalf("Serve returned %v while a run was working", err)
			case <-time.After(100 * time.Millisecond):
			}
			close(release)
			if err := <-served; err != nil {
				t.Errorf("Serve = %v, want nil after a clean drain", err)
			}
			if !workDone.Load() {
				t.Error("Serve returned before the run's work was done")
			}
			if !tt.finish {
				if got := <-resp; got != "200 OK: done" {
					t.Errorf("response = %q, want \"200 OK: done\"", got)
				}
			}
			if n := len(pool.Active()); n != 0 {
				t.Errorf("%d runs still active after Serve returned", n)
			}
		})
	}
}

// TestDrainIncomplete lets the drain deadline pass with a run still working:
// Serve cancels it with ErrServerShutdown, logs it by name and returns an
// error matching ErrDrainIncomplete.
func TestDrainIncomplete(t *testing.T) {
	tests := []struct {
		name string
		// finish calls Finish first; stuck ignores the run context until
		// the test ends, so only closing the connection ends the response.
		finish, stuck bool
		wantClosed    bool // Serve had to close connections
	}{
		{name: "after Finish", finish: true},
		{name: "open response", finish: false},
		{name: "stuck handler", stuck: true, wantClosed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log, logs := testLogger(t)
			pool := newPool(t, log)
			started, testEnd := make(chan struct{}), make(chan struct{})
			defer close(testEnd)
			cause := make(chan error, 1)
			h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rn, _ := lifeline.FromContext(r.Context())
				if tt.finish {
					_, _ = io.WriteString(w, "accepted")
					_ = rn.Finish()
				}
				close(started)
				if tt.stuck {
					<-testEnd
				} else {
					<-rn.Context().Done()
				}
				cause <- context.Cause(rn.Context())
			}))
			srv := start(t, pool, h, server.WithLogger(log), server.WithDrainTimeout(200*time.Millisecond))
			resp := get("http://" + srv.addr + "/slow?id=7")
			<-started
			err := srv.stop()
			if !errors.Is(err, server.ErrDrainIncomplete) {
				t.Fatalf("Serve = %v, want an error matching ErrDrainIncomplete", err)
			}
			if got := strings.Contains(err.Error(), "connections still open were closed"); got != tt.wantClosed {
				t.Errorf("Serve = %q: connections closed = %v, want %v", err, got, tt.wantClosed)
			}
			waitLog(t, logs, "server: run cut short by shutdown", "uri=\"/slow?id=7\"")
			if !tt.stuck {
				if c := <-cause; !errors.Is(c, lifeline.ErrServerShutdown) {
					t.Errorf("run context cause = %v, want ErrServerShutdown", c)
				}
			}
			got := <-resp // never hangs: answered, or the connection closed
			if tt.finish && got != "200 OK: accepted" {
				t.Errorf("response = %q, want the answer sent by Finish", got)
			}
		})
	}
}
