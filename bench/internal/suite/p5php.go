package suite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/loadgen"
	"github.com/lifeline-go/lifeline/bench/internal/serve"
	"github.com/lifeline-go/lifeline/conformance/phpfpm"
)

// p5Script is the PHP side of the scenario; p5Hello is the PHP side of the
// ceiling measurement, the same 14 bytes as the Lifeline hello handler.
const (
	p5Script = `<?php
echo "answered\n";
fastcgi_finish_request();
usleep(200000);
`
	p5Hello = `<?php
echo "Hello, world!\n";
`
)

// CPUs of P5's servers (every one of them, PHP-FPM's and nginx's workers
// included) and of its load tool.
const (
	p5ServerCPUs = "0"
	p5LoadCPUs   = "1"
)

// p5Env holds P5's servers and how the tuned pool was sized.
type p5Env struct {
	life, lifeHello     *p5Target // Lifeline: the scenario, hello
	php5, phpT          *p5Target // PHP-FPM: Debian's default pool, the tuned pool
	phpHello            *p5Target // the tuned pool's hello.php
	stops               []func()
	version             string
	workerRSS, avail    int64 // bytes
	nWorkers            int   // workers whose RSS was averaged
	byMemory, raised    int   // workers memory allows, workers started
	backlog, nginxConns int   // the tuned servers' listen backlog and worker_connections
	forked              time.Duration
}

// close stops every server p5Start started.
func (e *p5Env) close() {
	for i := len(e.stops) - 1; i >= 0; i-- {
		e.stops[i]()
	}
}

// tuning is the tuned pool's settings beyond its size, as an operator
// tuning PHP-FPM and nginx for this machine sets them.
func (e *p5Env) tuning() []phpfpm.Option {
	return []phpfpm.Option{
		phpfpm.WithNginxWorkers(0), // auto: one per CPU
		phpfpm.WithNginxConnections(e.nginxConns),
		phpfpm.WithListenBacklog(e.backlog),
		phpfpm.WithAccessLog(false),
	}
}

// tuningText describes every setting of the tuned pool, for the report.
func (e *p5Env) tuningText() string {
	return fmt.Sprintf("`pm = static`, `pm.max_children = %d`, `listen.backlog = %d`, OPcache on "+
		"(`zend_extension=opcache`, `opcache.enable=1`); nginx `worker_processes auto` (one per CPU), "+
		"`worker_connections %d`, `worker_rlimit_nofile %d`, `listen ... backlog=%d`, `access_log off`, "+
		"one FastCGI connection per request over the pool's Unix socket",
		e.raised, e.backlog, e.nginxConns, 2*e.nginxConns+64, e.backlog)
}

// tuningShort is tuningText for the summary's rows.
func (e *p5Env) tuningShort() string {
	return fmt.Sprintf("pm static, max_children %d (memory: %.1f GiB available ÷ %.1f MiB worker RSS = %d), "+
		"listen.backlog %d, OPcache on; nginx worker_processes auto, worker_connections %d, backlog %d, access_log off",
		e.raised, float64(e.avail)/(1<<30), float64(e.workerRSS)/(1<<20), e.byMemory, e.backlog, e.nginxConns, e.backlog)
}

// p5Start starts Debian's default pool, sizes the tuned one from its
// workers' memory as PHP-FPM's tuning guides do (available memory ÷ the
// average worker RSS, after a warm-up), starts it and waits until every
// worker is up, and starts Lifeline's servers. Every server runs on
// p5ServerCPUs. The returned env must be closed, even with an error.
func (r *runner) p5Start(ctx context.Context) (*p5Env, error) {
	env := &p5Env{backlog: somaxconn(), nginxConns: max(4096, 4*r.sz.p5HighConns)}
	docroot := filepath.Join(r.tmp, "php")
	if err := os.MkdirAll(docroot, 0o755); err != nil {
		return env, err
	}
	for name, script := range map[string]string{"work.php": p5Script, "hello.php": p5Hello} {
		if err := os.WriteFile(filepath.Join(docroot, name), []byte(script), 0o644); err != nil {
			return env, err
		}
	}
	startPHP := func(dirName, name, detail string, workers int, extra ...phpfpm.Option) (*p5Target, error) {
		dir := filepath.Join(r.tmp, dirName)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		opts := append([]phpfpm.Option{phpfpm.WithDir(dir), phpfpm.WithDocRoot(docroot),
			phpfpm.WithWorkers(workers), phpfpm.WithStartTimeout(60 * time.Second), phpfpm.WithCPUs(p5ServerCPUs),
			// Debian's php8.2-fpm loads and enables OPcache; php-fpm -n
			// starts without it.
			phpfpm.WithINI("zend_extension", "opcache"), phpfpm.WithINI("opcache.enable", "1")}, extra...)
		srv, err := phpfpm.Start(ctx, opts...)
		if err != nil {
			return nil, err
		}
		env.stops = append(env.stops, func() { _ = srv.Close() })
		env.version = srv.Version()
		return &p5Target{name: name, url: srv.URL() + "/work.php", php: srv, detail: detail}, nil
	}
	var err error
	if env.php5, err = startPHP("fpm5", "PHP-FPM default, 5 workers",
		"pm static, max_children 5, OPcache on; nginx 1 worker, worker_connections 512", 5); err != nil {
		return env, err
	}
	warm := loadgen.Load{Conns: r.sz.p5Conns, Threads: 1, Duration: time.Second, Timeout: 10 * time.Second, CPUs: p5LoadCPUs}
	if _, err := loadgen.Wrk(ctx, env.php5.url, warm); err != nil {
		return env, err
	}
	if err := waitIdle(ctx, env.php5.php); err != nil {
		return env, err
	}
	if env.workerRSS, env.nWorkers, err = fpmWorkerRSS(env.php5.php.Dir()); err != nil {
		return env, err
	}
	env.avail = meminfo("MemAvailable")
	env.byMemory = int(env.avail / max(env.workerRSS, 1))
	env.raised = min(env.byMemory, r.sz.p5RaisedCap)
	start := time.Now()
	if env.phpT, err = startPHP("fpmT", fmt.Sprintf("PHP-FPM tuned, %d workers", env.raised),
		env.tuningShort(), env.raised, env.tuning()...); err != nil {
		return env, err
	}
	if err := fpmWaitWorkers(ctx, env.phpT.php.Dir(), env.raised); err != nil {
		return env, err
	}
	env.forked = time.Since(start)
	env.phpHello = &p5Target{name: "PHP-FPM tuned, hello.php", url: env.phpT.php.URL() + "/hello.php", php: env.phpT.php}
	startLife := func(name, handler, path string) (*p5Target, error) {
		c, err := r.startServerOn(ctx, p5ServerCPUs, "-handler", handler, "-lifeline")
		if err != nil {
			return nil, err
		}
		env.stops = append(env.stops, c.stop)
		return &p5Target{name: name, url: c.url(path)}, nil
	}
	if env.life, err = startLife("Lifeline", serve.Finish, "/work"); err != nil {
		return env, err
	}
	if env.lifeHello, err = startLife("Lifeline hello", serve.Hello, "/"); err != nil {
		return env, err
	}
	return env, nil
}

// somaxconn returns the kernel's cap on a listen backlog, 511 (nginx's and
// PHP-FPM's default) if unknown.
func somaxconn() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		return 511
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return 511
	}
	return n
}

// fpmWorkers finds the PHP-FPM master whose configuration is in dir and
// returns its workers' process ids.
func fpmWorkers(dir string) ([]string, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	master := ""
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + p.Name() + "/cmdline")
		if strings.HasPrefix(string(cmdline), "php-fpm: master process") && strings.Contains(string(cmdline), dir) {
			master = p.Name()
			break
		}
	}
	if master == "" {
		return nil, fmt.Errorf("suite: no php-fpm master for %s in /proc", dir)
	}
	kids, err := os.ReadFile("/proc/" + master + "/task/" + master + "/children")
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(kids)), nil
}

// fpmWaitWorkers waits until the pool whose configuration is in dir has n
// workers: a static pool of thousands takes seconds to fork after its
// socket accepts connections.
func fpmWaitWorkers(ctx context.Context, dir string, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		pids, err := fpmWorkers(dir)
		if err != nil {
			return err
		}
		if len(pids) >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("suite: php-fpm has %d of %d workers: %w", len(pids), n, context.Cause(ctx))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// fpmWorkerRSS returns the average RSS in bytes of the workers of the pool
// whose configuration is in dir, and their number.
func fpmWorkerRSS(dir string) (avg int64, n int, err error) {
	pids, err := fpmWorkers(dir)
	if err != nil {
		return 0, 0, err
	}
	var total int64
	for _, pid := range pids {
		if rss := procRSS(pid); rss > 0 {
			total += rss
			n++
		}
	}
	if n == 0 {
		return 0, 0, fmt.Errorf("suite: the php-fpm pool in %s has no workers", dir)
	}
	return total / int64(n), n, nil
}

// procRSS returns a process's VmRSS in bytes, 0 if unknown.
func procRSS(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
