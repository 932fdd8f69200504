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

// p5Script is the PHP side of the scenario.
const p5Script = `<?php
echo "answered\n";
fastcgi_finish_request();
usleep(200000);
`

// p5Env holds P5's three servers and how the raised pool was sized.
type p5Env struct {
	life, php5, phpN *p5Target
	stops            []func()
	version          string
	workerRSS, avail int64 // bytes
	nWorkers         int   // workers whose RSS was averaged
	byMemory, raised int   // workers memory allows, workers started
}

// close stops every server p5Start started.
func (e *p5Env) close() {
	for i := len(e.stops) - 1; i >= 0; i-- {
		e.stops[i]()
	}
}

// p5Start starts the default pool, sizes the raised one from its workers'
// memory as PHP-FPM's tuning guides do (available memory ÷ the average
// worker RSS, after a warm-up), starts it, and starts Lifeline's server.
// The returned env must be closed, even with an error.
func (r *runner) p5Start(ctx context.Context) (*p5Env, error) {
	env := &p5Env{}
	docroot := filepath.Join(r.tmp, "php")
	if err := os.MkdirAll(docroot, 0o755); err != nil {
		return env, err
	}
	if err := os.WriteFile(filepath.Join(docroot, "work.php"), []byte(p5Script), 0o644); err != nil {
		return env, err
	}
	startPHP := func(name string, workers int) (*p5Target, error) {
		dir := filepath.Join(r.tmp, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		srv, err := phpfpm.Start(ctx, phpfpm.WithDir(dir), phpfpm.WithDocRoot(docroot), phpfpm.WithWorkers(workers),
			phpfpm.WithStartTimeout(30*time.Second))
		if err != nil {
			return nil, err
		}
		env.stops = append(env.stops, func() { _ = srv.Close() })
		env.version = srv.Version()
		return &p5Target{name: fmt.Sprintf("PHP-FPM, %d workers", workers), url: srv.URL() + "/work.php", php: srv}, nil
	}
	var err error
	if env.php5, err = startPHP("fpm5", 5); err != nil {
		return env, err
	}
	warm := loadgen.Load{Conns: r.sz.p5Conns, Threads: 1, Duration: time.Second, Timeout: 10 * time.Second}
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
	if env.phpN, err = startPHP("fpmN", env.raised); err != nil {
		return env, err
	}
	life, err := r.startServer(ctx, "-handler", serve.Finish, "-lifeline")
	if err != nil {
		return env, err
	}
	env.stops = append(env.stops, life.stop)
	env.life = &p5Target{name: "Lifeline", url: life.url("/work")}
	return env, nil
}

// fpmWorkerRSS finds the PHP-FPM master whose configuration is in dir and
// returns its workers' average RSS in bytes and their number.
func fpmWorkerRSS(dir string) (avg int64, n int, err error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0, err
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
		return 0, 0, fmt.Errorf("suite: no php-fpm master for %s in /proc", dir)
	}
	kids, err := os.ReadFile("/proc/" + master + "/task/" + master + "/children")
	if err != nil {
		return 0, 0, err
	}
	var total int64
	for _, pid := range strings.Fields(string(kids)) {
		if rss := procRSS(pid); rss > 0 {
			total += rss
			n++
		}
	}
	if n == 0 {
		return 0, 0, fmt.Errorf("suite: php-fpm master %s has no workers", master)
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
