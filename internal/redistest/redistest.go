// Package redistest starts a real redis-server on loopback for tests.
//
// Tests that need Redis call [Start]; it runs Debian's redis-server on a free
// 127.0.0.1 port with its data in the test's temporary directory, and stops it
// when the test ends (and, on Linux, when the test binary dies). By default
// Redis keeps nothing on disk; [WithAppendOnly] makes a [Server.Kill] lose
// nothing it acknowledged. When redis-server is not installed the test skips
// with one line saying how to install it, or fails under `make test`
// (LIFELINE_REQUIRE=all, package internal/testenv).
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/testenv"
)

// Server is one redis-server process started by [Start].
type Server struct {
	tb   testing.TB
	bin  string // redis-server's path
	dir  string
	port int
	aof  bool

	mu  sync.Mutex // guards cmd
	cmd *exec.Cmd
}

// Option configures [Start].
type Option func(*Server)

// WithAppendOnly runs Redis with an append-only file synced on every write
// (appendfsync always): a [Server.Kill] then loses nothing Redis
// acknowledged, and [Server.Restart] reloads the data set.
func WithAppendOnly() Option { return func(s *Server) { s.aof = true } }

// WithDir keeps Redis's files in dir instead of a temporary directory of
// the test.
func WithDir(dir string) Option { return func(s *Server) { s.dir = dir } }

// Start runs redis-server on a free loopback port for the duration of tb.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	bin := testenv.MustHaveExec(tb, testenv.Redis, "apt-get install -y redis-server", "redis-server")
	s := &Server{tb: tb, bin: bin, port: freePort(tb)}
	for _, o := range opts {
		o(s)
	}
	if s.dir == "" {
		s.dir = tb.TempDir()
	}
	if err := s.start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Kill)
	return s
}

// Addr is the server's host:port on 127.0.0.1.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Kill stops the server at once (SIGKILL), as a crash would. It is safe to call
// more than once.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port after [Server.Kill]. The
// data set is empty afterwards, unless the server was started
// [WithAppendOnly]; Restart returns once Redis has loaded it and answers PING.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Kill()
	if err := s.start(); err != nil {
		s.tb.Fatal(err)
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	logPath := filepath.Join(s.dir, "redis.log")
	appendOnly := []string{"--appendonly", "no"}
	if s.aof {
		appendOnly = []string{"--appendonly", "yes", "--appendfsync", "always"}
	}
	args := append([]string{
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(s.port),
		"--save", "",
		"--dir", s.dir,
		"--logfile", logPath,
		"--protected-mode", "yes",
	}, appendOnly...)
	cmd := exec.Command(s.bin, args...)
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ping(s.Addr()) == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	s.cmd = nil
	logData, _ := os.ReadFile(logPath)
	return fmt.Errorf("redistest: redis-server on %s did not answer PING within 10s; log:\n%s", s.Addr(), logData)
}

// ping sends an inline PING and waits for +PONG.
func ping(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("redistest: unexpected reply %q", line)
	}
	return nil
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("redistest: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
