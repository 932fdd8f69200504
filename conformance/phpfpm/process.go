//go:build unix

package phpfpm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// process is one server process (php-fpm or nginx master) started by Start.
type process struct {
	name   string
	cmd    *exec.Cmd
	out    *os.File
	logs   []string      // files whose tails explain a failure
	exited chan struct{} // closed when cmd.Wait returned
	err    error         // cmd.Wait's result, valid after exited
}

// startProcess starts the command line argv, its stdout and stderr in
// outPath, in a process group of its own so that Close can reach its
// workers too.
func startProcess(name string, argv []string, outPath string, logs []string) (*process, error) {
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("phpfpm: %s output: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrStart, name, err)
	}
	p := &process{name: name, cmd: cmd, out: out, logs: append([]string{outPath}, logs...), exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// waitReady dials network/addr until it answers, the process exits or the
// timeout passes.
func (p *process) waitReady(ctx context.Context, network, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%w: %s exited (%v) before accepting on %s:\n%s", ErrStart, p.name, p.err, addr, p.tails())
		case <-ctx.Done():
			return fmt.Errorf("%w: %s not accepting on %s after %v:\n%s", ErrStart, p.name, addr, timeout, p.tails())
		case <-tick.C:
		}
	}
}

// stop ends the process: SIGTERM to the master, then, if it is still there
// after the grace time, SIGKILL to its whole process group. It always waits
// for the master to exit.
func (p *process) stop(grace time.Duration) error {
	defer p.out.Close()
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
		return fmt.Errorf("phpfpm: %s ignored SIGTERM for %v; killed", p.name, grace)
	}
	// Workers left behind by a master that died first.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	return nil
}

// tails returns the end of the process's output and log files.
func (p *process) tails() string {
	var b strings.Builder
	for _, f := range p.logs {
		fmt.Fprintf(&b, "--- %s ---\n%s\n", filepath.Base(f), tail(f, 2048))
	}
	return b.String()
}

// tail returns at most the last n bytes of the file at path.
func tail(path string, n int64) string {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "(none)"
	}
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if int64(len(data)) > n {
		data = data[int64(len(data))-n:]
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	return strings.TrimSpace(string(data))
}

// lookBinary finds the first of names in PATH, then in /usr/sbin (Debian
// installs both servers there, outside an ordinary user's PATH).
func lookBinary(names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	for _, n := range names {
		if p, err := exec.LookPath(filepath.Join("/usr/sbin", n)); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: none of %s in PATH or /usr/sbin; install them with `make deps` "+
		"(scripts/deps.sh) or `apt-get install php-fpm php-cli nginx`", ErrNotInstalled, strings.Join(names, ", "))
}
