package pgtest

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// query runs sql in the database at dsn with psql and returns its unaligned
// output.
func query(t *testing.T, s *Server, dsn, sql string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(s.bin, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql)
	cmd.Env = s.env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// TestDatabasesAreFresh checks that each test's database starts empty and
// that a database is reachable at the URL given.
func TestDatabasesAreFresh(t *testing.T) {
	s := Shared(t)
	a, b := s.Database(t), s.Database(t)
	if a == b {
		t.Fatalf("two databases with one URL %s", a)
	}
	if out, err := query(t, s, a, "CREATE TABLE orders (id int); INSERT INTO orders VALUES (1); SELECT count(*) FROM orders"); err != nil || out != "1" {
		t.Fatalf("in %s: %q, %v", a, out, err)
	}
	if out, err := query(t, s, b, "SELECT count(*) FROM pg_tables WHERE tablename = 'orders'"); err != nil || out != "0" {
		t.Fatalf("in %s, the table of another database: %q, %v; want 0", b, out, err)
	}
}

// TestSharedIsShared checks that Shared starts one server per test binary.
func TestSharedIsShared(t *testing.T) {
	if a, b := Shared(t), Shared(t); a != b {
		t.Fatalf("Shared returned two servers: %s and %s", a.Addr(), b.Addr())
	}
}

// TestLoopbackAndSocket checks where the server listens: 127.0.0.1 on its
// port, and a unix socket in its own directory.
func TestLoopbackAndSocket(t *testing.T) {
	s := Shared(t)
	host, port, _ := net.SplitHostPort(s.Addr())
	if host != "127.0.0.1" {
		t.Errorf("host %s, want 127.0.0.1", host)
	}
	sock := filepath.Join(s.SocketDir(), ".s.PGSQL."+port)
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("no unix socket at %s: %v", sock, err)
	}
	if out, err := query(t, s, "host="+s.SocketDir()+" port="+port+" user=postgres dbname=postgres", "SHOW listen_addresses"); err != nil || out != "127.0.0.1" {
		t.Errorf("over the socket, listen_addresses = %q, %v", out, err)
	}
}

// TestKillRestart checks a crash of an own server: a committed row survives
// SIGKILL and a restart on the same port, and Stop removes the directory.
func TestKillRestart(t *testing.T) {
	s := Start(t)
	dsn := s.Database(t)
	if _, err := query(t, s, dsn, "CREATE TABLE t (v int); INSERT INTO t VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	s.Kill(syscall.SIGKILL)
	if _, err := query(t, s, dsn, "SELECT 1"); err == nil {
		t.Fatal("query succeeded on a killed server")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if out, err := query(t, s, dsn, "SELECT v FROM t"); err != nil || out != "42" {
		t.Fatalf("after restart: %q, %v; want 42", out, err)
	}
	dir := s.dir
	s.Stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Stop left %s: %v", dir, err)
	}
	s.Stop() // a second Stop is harmless
}

// TestNotRoot checks that the server does not run as root, which postgres
// refuses.
func TestNotRoot(t *testing.T) {
	s := Shared(t)
	out, err := query(t, s, s.URL("postgres"), "SELECT pg_backend_pid()")
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("pid %q: %v", out, err)
	}
	fi, err := os.Stat("/proc/" + strconv.Itoa(pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; uid == 0 {
		t.Errorf("backend %d runs as root", pid)
	}
}
