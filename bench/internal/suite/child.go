package suite

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// ChildArg is the first argument that makes the suite's program act as a
// child process (see cmd/suite).
const ChildArg = "child"

// child is a server the suite started in a process of its own. It serves
// until its standard input is closed, so it also stops if the suite dies.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	addr   string
	stderr *tailBuffer
	done   chan error
}

// startServer starts `suite child serve args...` and waits until it
// listens.
func (r *runner) startServer(ctx context.Context, args ...string) (*child, error) {
	return r.startServerOn(ctx, "", args...)
}

// startServerOn is startServer on the given CPUs only (taskset -c cpus, so
// that the Go runtime sizes GOMAXPROCS to them), or on every CPU when cpus
// is "".
func (r *runner) startServerOn(ctx context.Context, cpus string, args ...string) (*child, error) {
	argv := append([]string{r.cfg.Executable, ChildArg, "serve"}, args...)
	if cpus != "" {
		argv = append([]string{"taskset", "-c", cpus}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = 5 * time.Second
	c := &child{cmd: cmd, stderr: &tailBuffer{max: 8 << 10}, done: make(chan error, 1)}
	cmd.Stderr = c.stderr
	var err error
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("suite: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("suite: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("suite: start server: %w", err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { c.done <- cmd.Wait() }()
	select {
	case line, ok := <-lines:
		if addr, found := strings.CutPrefix(line, "listening on "); ok && found {
			c.addr = addr
			return c, nil
		}
	case <-time.After(15 * time.Second):
	case <-ctx.Done():
	}
	c.stop()
	return nil, fmt.Errorf("suite: server %s did not start: %s", strings.Join(args, " "), c.stderr)
}

// url returns the server's base URL plus path.
func (c *child) url(path string) string { return "http://" + c.addr + path }

// stop closes the child's standard input and waits for it to exit, killing
// it after a few seconds.
func (c *child) stop() {
	_ = c.stdin.Close()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// runChildJSON runs `suite child args...` to completion and decodes the
// JSON it prints into v.
func (r *runner) runChildJSON(ctx context.Context, v any, args ...string) error {
	cmd := exec.CommandContext(ctx, r.cfg.Executable, append([]string{ChildArg}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	stderr := &tailBuffer{max: 8 << 10}
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("suite: child %s: %w: %s", strings.Join(args, " "), err, stderr)
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("suite: child %s: %w: %q", strings.Join(args, " "), err, out)
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b.Write(p)
	if over := t.b.Len() - t.max; over > 0 {
		t.b.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(t.b.String())
}
