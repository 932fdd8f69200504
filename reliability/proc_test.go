package reliability

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/pgtest"
	"github.com/lifeline-go/lifeline/internal/syncbuf"
)

// binDir holds the server binaries the tests build; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lifeline-reliability-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		os.Exit(1)
	}
	binDir = dir
	code := pgtest.Main(m) // stops the shared PostgreSQL the tests started
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildMu sync.Mutex
	built   = map[string]error{}
)

// binary builds the main package pkg (an import path of this module) once
// per test binary, with -race when the tests run with it, and returns its
// path.
func binary(t testing.TB, pkg string) string {
	t.Helper()
	name := filepath.Base(pkg)
	path := filepath.Join(binDir, name)
	buildMu.Lock()
	defer buildMu.Unlock()
	err, ok := built[pkg]
	if !ok {
		gobin, lerr := exec.LookPath("go")
		if lerr != nil {
			gobin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		}
		args := []string{"build", "-o", path}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, pkg)
		cmd := exec.Command(gobin, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err = cmd.Run(); err != nil {
			err = fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out.String())
		}
		built[pkg] = err
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// Import paths of the server programs the scenarios run as processes.
const (
	refServerPkg = "github.com/lifeline-go/lifeline/cmd/lifeline"
	nodePkg      = "github.com/lifeline-go/lifeline/reliability/cmd/lifeline-node"
)

// proc is one server process that prints "listening on http://ADDR".
type proc struct {
	name   string
	cmd    *exec.Cmd
	addr   string // host:port
	base   string // http://host:port
	stdout *syncbuf.Buffer
	stderr *syncbuf.Buffer
	done   chan struct{} // closed when the process has exited and its output is read
	err    error         // Wait's result, set before done is closed
}

// startProc runs bin with args and waits until it listens. The process is
// killed when the test ends if it still runs.
func startProc(t testing.TB, name, bin string, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, nil, name, bin, args...)
}

// startProcEnv is startProc with env ("NAME=value") added to the
// environment of the process.
func startProcEnv(t testing.TB, env []string, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, done: make(chan struct{})}
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.Stderr = p.stderr
	pr, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: start: %v", name, err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
			}
			p.stdout.Write(append(sc.Bytes(), '\n'))
		}
		if first {
			close(lines)
		}
		_, _ = io.Copy(io.Discard, pr)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	select {
	case line, ok := <-lines:
		addr, found := strings.CutPrefix(line, "listening on http://")
		if !ok || !found {
			_ = p.cmd.Process.Kill()
			<-p.done
			t.Fatalf("%s: first line of stdout = %q, want \"listening on http://ADDR\"; exit: %v\nstderr:\n%s", name, line, p.err, p.stderr)
		}
		p.addr, p.base = addr, "http://"+addr
	case <-timer.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s: not listening after 60s\nstderr:\n%s", name, p.stderr)
	}
	return p
}

// signal sends sig to the process.
func (p *proc) signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: signal %v: %v", p.name, sig, err)
	}
}

// wait waits up to d for the process to exit and returns its exit code.
func (p *proc) wait(t testing.TB, d time.Duration) int {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		_ = p.cmd.Process.Signal(syscall.SIGQUIT) // a goroutine dump on stderr
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		t.Fatalf("%s: still running %v after it was asked to stop\nstderr (tail):\n%s", p.name, d, tail(p.stderr.String(), 8000))
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("%s: wait: %v", p.name, p.err)
	return -1
}

// stop sends SIGTERM and waits up to d for the exit code.
func (p *proc) stop(t testing.TB, d time.Duration) int {
	t.Helper()
	p.signal(t, syscall.SIGTERM)
	return p.wait(t, d)
}

// checkLog fails t if the process logged a data race, a panic, a fatal
// error or a runaway run, except the messages listed in allowed.
func (p *proc) checkLog(t testing.TB, allowed ...string) {
	t.Helper()
	out := p.stderr.String()
	for _, bad := range []string{"WARNING: DATA RACE", "panic:", "fatal error:", "handler panic", "runaway run"} {
		if slices.Contains(allowed, bad) {
			continue
		}
		if i := strings.Index(out, bad); i >= 0 {
			t.Errorf("%s: stderr has %q:\n%s", p.name, bad, tail(out[max(0, i-2000):], 8000))
		}
	}
}

// tail returns the end of s, at most n bytes.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// dataDir returns a fresh directory for a server's databases, in memory
// (/dev/shm) when the machine has it: bbolt syncs each write transaction to
// disk, and on a shared disk the storm would measure the disk.
func dataDir(t testing.TB) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		dir, err := os.MkdirTemp("/dev/shm", "lifeline-reliability-")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// sigTERM is the signal that asks a server to drain.
var sigTERM = syscall.SIGTERM
