package serve

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/syncbuf"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name     string
		kind     string
		lifeline bool
		wantErr  bool
	}{
		{"hello bare", Hello, false, false},
		{"hello lifeline", Hello, true, false},
		{"finish lifeline", Finish, true, false},
		{"finish bare", Finish, false, true},
		{"unknown", "nope", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.kind, tt.lifeline, slog.New(slog.DiscardHandler))
			if (err != nil) != tt.wantErr {
				t.Fatalf("New = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrUsage) {
				t.Errorf("New = %v, want ErrUsage", err)
			}
		})
	}
}

// TestServe serves each handler over HTTP/1.1 and h2c and checks the
// answers.
func TestServe(t *testing.T) {
	tests := []struct {
		kind     string
		lifeline bool
		want     string
	}{
		{Hello, false, "Hello, world!\n"},
		{Hello, true, "Hello, world!\n"},
		{Finish, true, "answered\n"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			s, err := New(tt.kind, tt.lifeline, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Serve(ctx, ln, 5*time.Second) }()
			var h2 http.Protocols
			h2.SetUnencryptedHTTP2(true)
			for _, c := range []*http.Client{{}, {Transport: &http.Transport{Protocols: &h2}}} {
				res, err := c.Get("http://" + ln.Addr().String() + "/")
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if string(body) != tt.want {
					t.Errorf("body %q, want %q", body, tt.want)
				}
				c.CloseIdleConnections()
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve = %v", err)
			}
		})
	}
}

func TestChildStopsOnStdinEOF(t *testing.T) {
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	var stderr syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Main(context.Background(), []string{"-handler", Hello, "-lifeline"}, stdinR, stdoutW, &stderr)
		stdoutW.Close()
	}()
	line, err := bufio.NewReader(stdoutR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		t.Fatalf("first line %q, want listening on ADDR", line)
	}
	res, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	go io.Copy(io.Discard, stdoutR)
	stdinW.Close() // the suite closes stdin: the server stops
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Main = %v (stderr %s)", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Main did not return after stdin closed")
	}
}

func TestChildUsage(t *testing.T) {
	err := Main(context.Background(), []string{"-bogus"}, strings.NewReader(""), io.Discard, io.Discard)
	if !errors.Is(err, ErrUsage) {
		t.Errorf("Main(-bogus) = %v, want ErrUsage", err)
	}
}
