//go:build unix

package phpfpm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is a PHP-FPM pool behind nginx, both started by [Start] on
// loopback with every file they write in one directory. Its methods are
// safe for concurrent use. Stop it with [Server.Close].
type Server struct {
	opts    options
	addr    string
	version string
	fpm     *process
	nginx   *process
	client  *http.Client

	mu     sync.Mutex // guards closed
	closed bool
}

// Start starts php-fpm (php-fpm8.2, else php-fpm) with a pool on a Unix
// socket, then nginx (in the foreground, -g 'daemon off;') on a free
// 127.0.0.1 port passing *.php to it, and returns once both accept
// connections. Their configuration, pid files, logs and temporary files
// are all in the [WithDir] directory. When either does not come up, Start
// stops whatever it started and returns an error matching [ErrStart] with
// the tail of the failing server's log; when a binary is missing, an error
// matching [ErrNotInstalled] that says how to install it.
//
// ctx bounds the start only; the servers run until [Server.Close].
func Start(ctx context.Context, opts ...Option) (*Server, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	fpmBin, err := lookBinary("php-fpm8.2", "php-fpm")
	if err != nil {
		return nil, err
	}
	nginxBin, err := lookBinary("nginx")
	if err != nil {
		return nil, err
	}
	var pin []string // the command prefix that pins to o.cpus
	if o.cpus != "" {
		taskset, err := lookBinary("taskset")
		if err != nil {
			return nil, err
		}
		pin = []string{taskset, "-c", o.cpus}
	}
	if err := os.MkdirAll(filepath.Join(o.dir, nginxTempName), 0o755); err != nil {
		return nil, fmt.Errorf("phpfpm: %w", err)
	}
	if err := os.WriteFile(filepath.Join(o.dir, fpmConfName), []byte(fpmConfig(&o)), 0o644); err != nil {
		return nil, fmt.Errorf("phpfpm: %w", err)
	}
	s := &Server{opts: o, client: &http.Client{Timeout: 5 * time.Second}}
	s.version = versions(fpmBin, nginxBin)
	sock := filepath.Join(o.dir, socketName)
	_ = os.Remove(sock)
	s.fpm, err = startProcess("php-fpm", pinned(pin, fpmBin, fpmArgs(&o)), filepath.Join(o.dir, fpmOutName),
		[]string{filepath.Join(o.dir, fpmLogName)})
	if err != nil {
		return nil, err
	}
	if err := s.fpm.waitReady(ctx, "unix", sock, o.startTimeout); err != nil {
		_ = s.fpm.stop(2 * time.Second)
		return nil, err
	}
	if err := s.startNginx(ctx, pin, nginxBin); err != nil {
		_ = s.fpm.stop(2 * time.Second)
		return nil, err
	}
	return s, nil
}

// startNginx starts nginx on a free port, trying another port when the one
// picked was taken meanwhile.
func (s *Server) startNginx(ctx context.Context, pin []string, bin string) error {
	o := &s.opts
	conf := filepath.Join(o.dir, nginxConfName)
	logPath := filepath.Join(o.dir, nginxLogName)
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return fmt.Errorf("phpfpm: free port: %w", err)
		}
		if err := os.WriteFile(conf, []byte(nginxConfig(o, port)), 0o644); err != nil {
			return fmt.Errorf("phpfpm: %w", err)
		}
		args := []string{"-p", o.dir, "-c", conf, "-e", logPath, "-g", "daemon off;"}
		p, err := startProcess("nginx", pinned(pin, bin, args), filepath.Join(o.dir, nginxOutName), []string{logPath})
		if err != nil {
			return err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = p.waitReady(ctx, "tcp", addr, o.startTimeout); lastErr == nil {
			s.nginx, s.addr = p, addr
			return nil
		}
		_ = p.stop(2 * time.Second)
		if !strings.Contains(lastErr.Error(), "Address already in use") {
			return lastErr
		}
	}
	return lastErr
}

// pinned returns the command line running bin with args, behind the
// prefix pin (taskset -c cpus, which execs bin in its own process) if any.
func pinned(pin []string, bin string, args []string) []string {
	return append(append(append([]string(nil), pin...), bin), args...)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Addr returns nginx's address, "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr }

// URL returns nginx's base URL, "http://127.0.0.1:port".
func (s *Server) URL() string { return "http://" + s.addr }

// Version returns the versions of the two servers, as in
// "PHP 8.2.35 (fpm-fcgi), nginx/1.22.1".
func (s *Server) Version() string { return s.version }

// versions asks both binaries for their version.
func versions(fpmBin, nginxBin string) string {
	first := func(bin string) string {
		out, err := exec.Command(bin, "-v").CombinedOutput()
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		if err != nil || line == "" {
			return filepath.Base(bin) + " (unknown version)"
		}
		return line
	}
	php := first(fpmBin)
	if i := strings.Index(php, " (built"); i >= 0 {
		php = php[:i]
	}
	return php + ", " + strings.TrimPrefix(first(nginxBin), "nginx version: ")
}

// Dir returns the directory holding the servers' files (see [WithDir]).
func (s *Server) Dir() string { return s.opts.dir }

// Logs returns the tails of php-fpm's, PHP's and nginx's logs, for test
// failure messages.
func (s *Server) Logs() string {
	var b strings.Builder
	for _, f := range []string{fpmOutName, fpmLogName, phpErrorName, nginxLogName} {
		fmt.Fprintf(&b, "--- %s ---\n%s\n", f, tail(filepath.Join(s.opts.dir, f), 4096))
	}
	return b.String()
}

// WaitIdle waits until no PHP-FPM worker is busy with a request, including
// the work PHP does after the response (shutdown functions, destructors,
// session write, and everything after fastcgi_finish_request), by polling
// the pool's status page. It returns ctx's error if ctx ends first.
func (s *Server) WaitIdle(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		busy, err := s.busy(ctx)
		if err != nil {
			return err
		}
		if busy == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("phpfpm: %d workers still busy: %w", busy, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// fpmStatus is the part of the status page's JSON that WaitIdle reads.
type fpmStatus struct {
	Processes []struct {
		State      string `json:"state"`
		RequestURI string `json:"request uri"`
	} `json:"processes"`
}

// busy returns the number of workers serving something other than the
// status page.
func (s *Server) busy(ctx context.Context) (int, error) {
	if s.isClosed() {
		return 0, ErrClosed
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+StatusPath+"?json&full", nil)
	if err != nil {
		return 0, fmt.Errorf("phpfpm: status: %w", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("phpfpm: status: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("phpfpm: status page: %s", resp.Status)
	}
	var st fpmStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, fmt.Errorf("phpfpm: status page: %w", err)
	}
	n := 0
	for _, p := range st.Processes {
		if p.State != "Idle" && !strings.HasPrefix(p.RequestURI, StatusPath) {
			n++
		}
	}
	return n, nil
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops nginx, then php-fpm, killing whatever does not stop within a
// few seconds, and waits for both. It returns the first error; calling it
// again returns nil.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.client.CloseIdleConnections()
	return errors.Join(s.nginx.stop(5*time.Second), s.fpm.stop(5*time.Second))
}
