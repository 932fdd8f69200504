package reliability

import (
	"bufio"
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
)

// redisServer is what the Redis-fault scenarios need of a redis-server:
// internal/redistest's Server, or aofRedis.
type redisServer interface {
	Addr() string
	Kill()
	Restart()
}

// aofRedis is a redis-server with an append-only file synced on every write
// (appendfsync always), so that a SIGKILL loses nothing it acknowledged:
// internal/redistest runs Redis without persistence, which forgets every
// session and lock on a restart. The data lives in memory (/dev/shm) when
// the machine has it, which survives the process, not the machine.
type aofRedis struct {
	tb   testing.TB
	dir  string
	port int

	mu  sync.Mutex // guards cmd
	cmd *exec.Cmd
}

// startAOFRedis starts a persistent redis-server on a free loopback port for
// the duration of tb.
func startAOFRedis(tb testing.TB) *aofRedis {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		tb.Fatalf("redis-server not found (%v); run `make test`, which installs it, or `apt-get install -y redis-server`", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &aofRedis{tb: tb, dir: dataDir(tb), port: port}
	if err := r.start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(r.Kill)
	return r
}

func (r *aofRedis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// Kill stops the server with SIGKILL, as a crash would.
func (r *aofRedis) Kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// Restart starts the server again on the same port and data; it returns
// once the data set is loaded and the server answers PING.
func (r *aofRedis) Restart() {
	r.tb.Helper()
	r.Kill()
	if err := r.start(); err != nil {
		r.tb.Fatal(err)
	}
}

func (r *aofRedis) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	logPath := filepath.Join(r.dir, "redis.log")
	cmd := exec.Command("redis-server",
		"--bind", "127.0.0.1", "--port", strconv.Itoa(r.port),
		"--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--dir", r.dir, "--logfile", logPath, "--protected-mode", "yes")
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	r.cmd = cmd
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if redisPing(r.Addr()) == nil {
			return nil
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	r.cmd = nil
	logData, _ := os.ReadFile(logPath)
	return fmt.Errorf("redis-server on %s did not answer PING within 10s; log:\n%s", r.Addr(), logData)
}

// redisPing sends an inline PING and waits for +PONG (a server still
// loading its data answers -LOADING).
func redisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
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
		return fmt.Errorf("reply %q", line)
	}
	return nil
}
