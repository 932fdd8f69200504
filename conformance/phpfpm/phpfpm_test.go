//go:build unix

package phpfpm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/conformance/phpfpm"
	"github.com/lifeline-go/lifeline/internal/testenv"
)

// mustBeInstalled ends t as package testenv decides when [phpfpm.Start]
// found no php-fpm or nginx: a skip under a bare go test, a failure under
// make test (LIFELINE_REQUIRE=all).
func mustBeInstalled(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, phpfpm.ErrNotInstalled) {
		testenv.Missing(t, testenv.PHP, "%v", err)
	}
}

// docRoot returns the absolute path of the test scripts.
func docRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("testdata/www")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return resp.Header.Get("Content-Encoding") + "|" + string(body)
}

func TestStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	done := filepath.Join(dir, "done")
	srv, err := phpfpm.Start(ctx,
		phpfpm.WithDir(dir),
		phpfpm.WithDocRoot(docRoot(t)),
		phpfpm.WithINI("output_buffering", "1234"),
		phpfpm.WithParam("LL_PARAM", "p1"),
		phpfpm.WithParam("LL_DONE", done),
		phpfpm.WithDirectives("fastcgi_buffering off"),
		phpfpm.WithLocation("/gz/", "gzip on", "gzip_types text/plain", "gzip_min_length 1"),
		phpfpm.WithWorkers(2),
	)
	mustBeInstalled(t, err)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if v := srv.Version(); !strings.HasPrefix(v, "PHP 8.") || !strings.Contains(v, "nginx/") {
		t.Errorf("Version() = %q, want PHP 8.x and nginx", v)
	}

	tests := []struct {
		name string
		path string
		want string
	}{
		{name: "ini and param", path: "/hello.php", want: "|hello 1234 p1"},
		{name: "extra location", path: "/gz/hello.php", want: "|hello 1234 p1"}, // net/http decodes gzip
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := get(t, srv.URL()+tt.path)
			if got != tt.want {
				t.Errorf("GET %s = %q, want %q", tt.path, got, tt.want)
			}
		})
	}

	t.Run("WaitIdle", func(t *testing.T) {
		if got := get(t, srv.URL()+"/slow.php"); got != "|ok" {
			t.Fatalf("GET /slow.php = %q, want %q", got, "|ok")
		}
		if err := srv.WaitIdle(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(done); err != nil {
			t.Errorf("WaitIdle returned before the shutdown function ended: %v", err)
		}
	})

	t.Run("Close", func(t *testing.T) {
		pids := readPids(t, dir, "php-fpm.pid", "nginx.pid")
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		for _, pid := range pids {
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("process %d still there after Close (kill 0: %v)", pid, err)
			}
		}
		if err := srv.Close(); err != nil {
			t.Errorf("second Close = %v, want nil", err)
		}
		if err := srv.WaitIdle(ctx); !errors.Is(err, phpfpm.ErrClosed) {
			t.Errorf("WaitIdle after Close = %v, want ErrClosed", err)
		}
	})
}

func readPids(t *testing.T, dir string, names ...string) []int {
	t.Helper()
	var pids []int
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		var pid int
		for _, c := range strings.TrimSpace(string(b)) {
			pid = pid*10 + int(c-'0')
		}
		pids = append(pids, pid)
	}
	return pids
}

// TestStartTuned starts a server with the tuning options and checks that
// they reach the servers: requests are served through the FastCGI
// keepalive upstream, nothing is access-logged, every process runs on CPU
// 0 only, and the configurations say the rest.
func TestStartTuned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	srv, err := phpfpm.Start(ctx,
		phpfpm.WithDir(dir),
		phpfpm.WithDocRoot(docRoot(t)),
		phpfpm.WithWorkers(2),
		phpfpm.WithNginxWorkers(0),
		phpfpm.WithNginxConnections(2048),
		phpfpm.WithListenBacklog(1024),
		phpfpm.WithAccessLog(false),
		phpfpm.WithFastCGIKeepalive(4),
		phpfpm.WithCPUs("0"),
	)
	mustBeInstalled(t, err)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for range 3 {
		if got := get(t, srv.URL()+"/hello.php"); got != "|hello 0 -" {
			t.Fatalf("GET /hello.php = %q, want %q", got, "|hello 0 -")
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "nginx-access.log")); err == nil && len(b) > 0 {
		t.Errorf("access log written with WithAccessLog(false): %q", b)
	}
	for _, pid := range readPids(t, dir, "php-fpm.pid", "nginx.pid") {
		pids := append([]string{strconv.Itoa(pid)}, children(t, pid)...)
		for _, p := range pids {
			if got := cpusAllowed(t, p); got != "0" {
				t.Errorf("process %s runs on CPUs %q, want 0", p, got)
			}
		}
	}
	for file, want := range map[string][]string{
		"nginx.conf": {"worker_processes auto;", "worker_rlimit_nofile 4160;", "worker_connections 2048;",
			"backlog=1024;", "access_log off;", "keepalive 4;", "fastcgi_keep_conn on;"},
		"php-fpm.conf": {"listen.backlog = 1024"},
	} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %q:\n%s", file, w, b)
			}
		}
	}
}

// children returns the process ids of pid's children.
func children(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// cpusAllowed returns the Cpus_allowed_list of a process's status.
func cpusAllowed(t *testing.T, pid string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(rest)
		}
	}
	t.Fatalf("no Cpus_allowed_list in /proc/%s/status", pid)
	return ""
}

func TestStartFailure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	_, err := phpfpm.Start(ctx, phpfpm.WithDir(dir), phpfpm.WithDocRoot(docRoot(t)),
		phpfpm.WithDirectives("no_such_directive on"))
	mustBeInstalled(t, err)
	if !errors.Is(err, phpfpm.ErrStart) {
		t.Fatalf("Start with a bad directive = %v, want ErrStart", err)
	}
	if !strings.Contains(err.Error(), "no_such_directive") {
		t.Errorf("error does not quote nginx's log: %v", err)
	}
	// php-fpm was started first and must be gone again.
	if b, err := os.ReadFile(filepath.Join(dir, "php-fpm.pid")); err == nil {
		var pid int
		for _, c := range strings.TrimSpace(string(b)) {
			pid = pid*10 + int(c-'0')
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("php-fpm %d left running after a failed Start", pid)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	abs := t.TempDir()
	tests := []struct {
		name string
		opts []phpfpm.Option
	}{
		{name: "no dir", opts: []phpfpm.Option{phpfpm.WithDocRoot(abs)}},
		{name: "no doc root", opts: []phpfpm.Option{phpfpm.WithDir(abs)}},
		{name: "relative", opts: []phpfpm.Option{phpfpm.WithDir("rel"), phpfpm.WithDocRoot(abs)}},
		{name: "workers", opts: []phpfpm.Option{phpfpm.WithDir(abs), phpfpm.WithDocRoot(abs), phpfpm.WithWorkers(0)}},
		{name: "timeout", opts: []phpfpm.Option{phpfpm.WithDir(abs), phpfpm.WithDocRoot(abs), phpfpm.WithStartTimeout(0)}},
		{name: "ini key", opts: []phpfpm.Option{phpfpm.WithDir(abs), phpfpm.WithDocRoot(abs), phpfpm.WithINI("a b", "1")}},
		{name: "param", opts: []phpfpm.Option{phpfpm.WithDir(abs), phpfpm.WithDocRoot(abs), phpfpm.WithParam("X", "}")}},
		{name: "directive", opts: []phpfpm.Option{phpfpm.WithDir(abs), phpfpm.WithDocRoot(abs), phpfpm.WithDirectives("a { b")}},
		{name: "prefix", opts: []phpfpm.Option{phpfpm.WithDir(abs), phpfpm.WithDocRoot(abs), phpfpm.WithLocation("gz")}},
		{name: "long dir", opts: []phpfpm.Option{phpfpm.WithDir("/" + strings.Repeat("d", 120)), phpfpm.WithDocRoot(abs)}},
		{name: "nginx workers", opts: []phpfpm.Option{phpfpm.WithDir(abs), phpfpm.WithDocRoot(abs), phpfpm.WithNginxWorkers(-1)}},
		{name: "nginx connections", opts: []phpfpm.Option{phpfpm.WithDir(abs), phpfpm.WithDocRoot(abs), phpfpm.WithNginxConnections(8)}},
		{name: "backlog", opts: []phpfpm.Option{phpfpm.WithDir(abs), phpfpm.WithDocRoot(abs), phpfpm.WithListenBacklog(-1)}},
		{name: "keepalive", opts: []phpfpm.Option{phpfpm.WithDir(abs), phpfpm.WithDocRoot(abs), phpfpm.WithFastCGIKeepalive(-1)}},
		{name: "cpus", opts: []phpfpm.Option{phpfpm.WithDir(abs), phpfpm.WithDocRoot(abs), phpfpm.WithCPUs("0;rm")}},
		{name: "nil", opts: []phpfpm.Option{nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := phpfpm.Start(context.Background(), tt.opts...)
			if !errors.Is(err, phpfpm.ErrInvalidOption) {
				t.Errorf("Start = %v, want ErrInvalidOption", err)
			}
		})
	}
}
