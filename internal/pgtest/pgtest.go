// Package pgtest starts a real PostgreSQL server on loopback for tests.
//
// It runs Debian's postgresql package (initdb and postgres, found under
// /usr/lib/postgresql/*/bin): the cluster lives in a temporary directory,
// the server listens on 127.0.0.1 on a free port and keeps its unix sockets
// in that directory. Postgres refuses to run as root, so when the test runs as
// root the cluster belongs to the unprivileged user "nobody" and the server
// runs as that user.
//
// A test either starts a server of its own with [Start], stopped when the test
// ends, or shares one per test binary through [Shared] (started at the first
// call, stopped by [Main] from TestMain, and killed with the test binary on
// Linux otherwise). Either way [Server.Database] gives each test a fresh
// database, dropped when the test ends:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestOrders(t *testing.T) {
//		dsn := pgtest.Shared(t).Database(t) // postgres://postgres@127.0.0.1:port/db?sslmode=disable
//		...
//	}
//
// When PostgreSQL is not installed, the test skips with one line saying how to
// install it, or fails under `make test` (LIFELINE_REQUIRE=all, package
// internal/testenv).
package pgtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/testenv"
)

// startTimeout bounds initdb plus the server's start, and the server's stop.
const startTimeout = 60 * time.Second

// Server is one PostgreSQL server started by [Start] or [Shared]. Its
// methods may be called from any goroutine.
type Server struct {
	bin  string // directory of initdb, postgres, psql
	dir  string // the temporary directory: data/, the sockets, postgres.log
	port int
	cred *syscall.Credential // nil when not running as root

	mu     sync.Mutex    // guards proc and exited
	proc   *os.Process   // the postmaster, nil when stopped
	exited chan struct{} // closed when proc has exited
}

var (
	sharedMu  sync.Mutex
	shared    *Server
	sharedErr error

	dbSeq atomic.Int64 // makes database names unique within the test binary
)

// Start runs a PostgreSQL server of its own for the duration of tb and
// stops it when tb ends. It calls tb.Fatal when the server cannot start, and
// skips or fails tb (internal/testenv) when PostgreSQL is not installed.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := binDir(tb)
	s, err := start(bin)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Shared returns the test binary's shared server, starting it at the first
// call. It is stopped by [Main]; without a TestMain that calls Main it lives
// until the test binary exits (on Linux the kernel then kills it). It calls
// tb.Fatal when the server cannot start, and skips or fails tb
// (internal/testenv) when PostgreSQL is not installed.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	bin := binDir(tb)
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = start(bin)
	}
	if sharedErr != nil {
		tb.Fatal(sharedErr)
	}
	return shared
}

// Main runs the tests of m and then stops the shared server, if a test
// started one; it returns m.Run's exit code. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	sharedMu.Lock()
	s := shared
	shared, sharedErr = nil, nil
	sharedMu.Unlock()
	if s != nil {
		s.Stop()
	}
	return code
}

// Addr is the server's host:port on 127.0.0.1.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// SocketDir is the directory that holds the server's unix socket
// (.s.PGSQL.<port>).
func (s *Server) SocketDir() string { return s.dir }

// URL is the connection URL of database db over TCP as the superuser
// "postgres", which needs no password: postgres://postgres@127.0.0.1:port/db?sslmode=disable.
// pgx and lib/pq accept it.
func (s *Server) URL(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     s.Addr(),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Database creates a fresh, empty database for tb, drops it when tb ends
// (closing what is still connected to it), and returns its connection URL
// (see [Server.URL]). It calls tb.Fatal when the database cannot be created.
func (s *Server) Database(tb testing.TB) string {
	tb.Helper()
	name := "pgtest_" + strconv.FormatInt(dbSeq.Add(1), 10)
	if err := s.psql("CREATE DATABASE " + name + " TEMPLATE template0"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.psql("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil && s.running() {
			tb.Error(err)
		}
	})
	return s.URL(name)
}

// Stop shuts the server down (a fast shutdown, then SIGKILL if it lasts
// over a minute) and removes its directory. It is safe to call more than once.
func (s *Server) Stop() {
	s.Kill(syscall.SIGINT)
	_ = os.RemoveAll(s.dir)
}

// Kill sends sig to the server's postmaster and waits for it to exit:
// SIGINT is a fast shutdown, SIGQUIT an immediate one (every session ends
// at once; crash recovery at the next start), SIGKILL a crash of the
// postmaster alone (sessions already open may be served a while longer,
// until their backends notice). The data directory stays, so
// [Server.Restart] starts the same cluster again. It is safe to call more
// than once.
func (s *Server) Kill(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	_ = s.proc.Signal(sig)
	select {
	case <-s.exited:
	case <-time.After(startTimeout):
		_ = s.proc.Kill()
		<-s.exited
	}
	s.proc, s.exited = nil, nil
}

// Restart starts the server again on the same port and data after
// [Server.Kill]; it returns once the server accepts connections.
func (s *Server) Restart() error {
	s.Kill(syscall.SIGINT)
	return s.run()
}

func (s *Server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

// binDir finds the newest PostgreSQL's binaries or ends tb through testenv.
func binDir(tb testing.TB) string {
	tb.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first ("9.6" sorts after "15" as a string, so by number).
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) && isExec(filepath.Join(d, "psql")) {
			return d
		}
	}
	testenv.Missing(tb, testenv.Postgres, "no initdb, postgres and psql under /usr/lib/postgresql/*/bin; install them with `apt-get install -y postgresql`")
	return ""
}

func version(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// start creates a cluster in a new temporary directory and runs it.
func start(bin string) (*Server, error) {
	s := &Server{bin: bin}
	var err error
	if s.cred, err = credential(); err != nil {
		return nil, err
	}
	// A directory of its own rather than tb.TempDir: the unprivileged user
	// must reach it, and the testing package's parent directories are 0700
	// and root's.
	if s.dir, err = os.MkdirTemp("", "lifeline-pgtest-"); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			_ = os.RemoveAll(s.dir)
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	if err := s.initdb(); err != nil {
		_ = os.RemoveAll(s.dir)
		return nil, err
	}
	// A free port can be taken by someone else between the probe and the
	// server's bind: try a few.
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err == nil {
			if err = s.run(); err == nil {
				return s, nil
			}
		}
		if attempt == 4 {
			_ = os.RemoveAll(s.dir)
			return nil, err
		}
	}
}

// credential is the unprivileged user that runs the server when the test
// runs as root, or nil.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root and no user %q to run postgres as: %w", "nobody", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgtest: user nobody: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

func (s *Server) initdb() error {
	cmd := exec.Command(filepath.Join(s.bin, "initdb"),
		"-D", s.dataDir(), "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	cmd.Dir = s.dir
	cmd.Env = s.env()
	cmd.SysProcAttr = s.sysProcAttr()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	return nil
}

// run starts postgres on s.port and waits until it accepts connections.
func (s *Server) run() error {
	logPath := filepath.Join(s.dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(s.bin, "postgres"),
		"-D", s.dataDir(),
		"-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+s.dir,
		"-c", "max_connections=200",
		// A killed postmaster still has its writes in the kernel's page
		// cache; only a machine crash needs fsync, and tests do not survive one.
		"-c", "fsync=off",
		"-c", "full_page_writes=off",
	)
	cmd.Dir = s.dir
	cmd.Env = s.env()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = s.sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	fail := func(format string, args ...any) error {
		_ = cmd.Process.Kill()
		<-exited
		logData, _ := os.ReadFile(logPath)
		return fmt.Errorf("pgtest: postgres on %s %s; log:\n%s", s.Addr(), fmt.Sprintf(format, args...), logData)
	}
	deadline := time.Now().Add(startTimeout)
	for !s.ready() {
		if time.Now().After(deadline) {
			return fail("not ready within %v", startTimeout)
		}
		select {
		case <-exited:
			return fail("exited at start (%v)", waitErr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := s.waitAccepting(deadline); err != nil {
		return fail("refuses connections: %v", err)
	}
	s.mu.Lock()
	s.proc, s.exited = cmd.Process, exited
	s.mu.Unlock()
	return nil
}

// ready reports whether the postmaster says it accepts connections: the
// last line of postmaster.pid reads "ready" (PostgreSQL 10 and later), as
// pg_ctl -w checks.
func (s *Server) ready() bool {
	b, err := os.ReadFile(filepath.Join(s.dataDir(), "postmaster.pid"))
	if err != nil {
		return false
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return len(lines) >= 8 && strings.TrimSpace(lines[7]) == "ready"
}

// waitAccepting checks that a TCP client can open a session.
func (s *Server) waitAccepting(deadline time.Time) error {
	var err error
	for time.Now().Before(deadline) {
		if err = s.psql("SELECT 1"); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// psql runs one SQL command in the "postgres" database over TCP.
func (s *Server) psql(sql string) error {
	cmd := exec.Command(filepath.Join(s.bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", "postgres", "-d", "postgres", "-c", sql)
	cmd.Env = s.env()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgtest: psql %q: %w\n%s", sql, err, out.Bytes())
	}
	return nil
}

// env is a minimal environment: no PG* variables of the caller leak in.
func (s *Server) env() []string {
	return []string{"PATH=" + s.bin + ":/usr/bin:/bin", "LC_ALL=C", "TZ=UTC", "HOME=" + s.dir}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
