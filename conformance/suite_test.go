package conformance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/compress"
	"github.com/lifeline-go/lifeline/conformance/phpfpm"
	"github.com/lifeline-go/lifeline/internal/testenv"
)

// writeEnv set to 1 makes TestConformance regenerate docs/CONFORMANCE.md
// (scripts/conformance.sh, make conformance). Plain go test never writes.
const writeEnv = "LIFELINE_CONFORMANCE_WRITE"

// scenario is one behaviour, exercised twice: by a PHP script under PHP-FPM
// behind nginx, and by a Go handler under Lifeline, with the same client
// plan against both. Its declared differences say where Lifeline is
// expected to behave otherwise, and why.
type scenario struct {
	name    string                                        // the scenario's id
	script  string                                        // the PHP script, testdata/php/<script>.php; default name
	about   string                                        // what it does, for the table
	phpLoc  string                                        // nginx location of the script: "/" (unbuffered), "/buffered/", "/gz/", "/zlib/"
	goWrap  func(env *goEnv, h http.Handler) http.Handler // middleware inside the run (compression)
	goCode  func(s *script)
	plan    func(cl *client) error // default planRead()
	diffs   []diff
	note    string   // an observation worth the reader's attention, for the table
	headers []string // response header fields shown as facts ("hdr.Name")
}

// result is one scenario's outcome, for the report.
type result struct {
	sc       *scenario
	ran      bool
	php, ll  facts
	problems []string
}

// suiteTimeout bounds the whole comparison.
const suiteTimeout = 3 * time.Minute

func TestConformance(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	defer cancel()
	dir := t.TempDir()
	all := scenarios()
	php := startPHP(ctx, t, dir)
	ll := startLifeline(t, dir, all)

	var results []*result
	for _, sc := range all {
		res := &result{sc: sc}
		results = append(results, res)
		t.Run(sc.name, func(t *testing.T) {
			res.ran = true
			if err := runScenario(ctx, res, php, ll); err != nil {
				res.problems = append(res.problems, err.Error())
				t.Fatalf("%v\nPHP logs:\n%s\nLifeline log:\n%s", err, php.logs(), ll.logs())
			}
			for _, p := range res.problems {
				t.Errorf("%s", p)
			}
			t.Logf("PHP:      %s\nLifeline: %s", res.php.String(), res.ll.String())
		})
	}
	if testing.Verbose() {
		t.Logf("PHP logs:\n%s", php.logs())
	}
	if os.Getenv(writeEnv) == "1" {
		for _, r := range results {
			if !r.ran {
				t.Fatalf("not writing docs/CONFORMANCE.md: scenario %s did not run (a -run filter?)", r.sc.name)
			}
		}
		path := filepath.Join("..", "docs", "CONFORMANCE.md")
		if err := os.WriteFile(path, []byte(report(results, php.version, ll.version)), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
}

// runScenario runs the scenario against both sides at once.
func runScenario(ctx context.Context, res *result, php, ll *side) error {
	sc := res.sc
	var wg sync.WaitGroup
	var phpErr, llErr error
	wg.Go(func() { res.php, phpErr = runSide(ctx, php, sc) })
	wg.Go(func() { res.ll, llErr = runSide(ctx, ll, sc) })
	wg.Wait()
	if phpErr != nil {
		return fmt.Errorf("PHP side: %w", phpErr)
	}
	if llErr != nil {
		return fmt.Errorf("Lifeline side: %w", llErr)
	}
	res.problems = compare(res.php, res.ll, sc.diffs)
	return nil
}

// runSide plays the scenario's client plan against one side, waits until
// the server has nothing left to do, and derives the facts.
func runSide(ctx context.Context, sd *side, sc *scenario) (facts, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cl := &client{ctx: ctx, side: sd, sc: sc, run: sc.name + "." + sd.name}
	plan := sc.plan
	if plan == nil {
		plan = planRead()
	}
	if err := plan(cl); err != nil {
		return facts{}, fmt.Errorf("client plan: %w", err)
	}
	if err := sd.waitIdle(ctx); err != nil {
		return facts{}, err
	}
	evs, err := readEvents(sd.events, cl.run)
	if err != nil {
		return facts{}, err
	}
	return deriveFacts(cl.run, cl.obs, evs, sc.headers)
}

// startPHP starts PHP-FPM behind nginx with the settings every scenario
// assumes: PHP's production-like defaults, a short time limit.
func startPHP(ctx context.Context, t *testing.T, dir string) *side {
	t.Helper()
	docRoot, err := filepath.Abs(filepath.Join("testdata", "php"))
	if err != nil {
		t.Fatal(err)
	}
	phpDir := filepath.Join(dir, "php")
	sessDir := filepath.Join(dir, "php-sessions")
	signals := filepath.Join(dir, "signals")
	for _, d := range []string{phpDir, sessDir, signals} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	events := filepath.Join(dir, "php-events.log")
	unbuffered := "fastcgi_buffering off"
	srv, err := phpfpm.Start(ctx,
		phpfpm.WithDir(phpDir),
		phpfpm.WithDocRoot(docRoot),
		phpfpm.WithWorkers(6),
		phpfpm.WithParam("CONFORMANCE_LOG", events),
		phpfpm.WithParam("CONFORMANCE_DIR", signals),
		phpfpm.WithDirectives(unbuffered),
		phpfpm.WithLocation("/buffered/"),
		phpfpm.WithLocation("/gz/", unbuffered, "gzip on", "gzip_types *", "gzip_min_length 1"),
		phpfpm.WithLocation("/zlib/", unbuffered, "fastcgi_param PHP_VALUE zlib.output_compression=On"),
		phpfpm.WithINI("output_buffering", "4096"),
		phpfpm.WithINI("max_execution_time", "10"),
		phpfpm.WithINI("display_errors", "0"),
		phpfpm.WithINI("log_errors", "1"),
		phpfpm.WithINI("html_errors", "0"),
		phpfpm.WithINI("expose_php", "0"),
		phpfpm.WithINI("error_reporting", "32767"),
		phpfpm.WithINI("session.save_path", sessDir),
		phpfpm.WithINI("session.use_strict_mode", "1"),
		phpfpm.WithINI("session.cookie_path", "/"),
	)
	if errors.Is(err, phpfpm.ErrNotInstalled) {
		testenv.Missing(t, testenv.PHP, "%v", err) // a skip under a bare go test, a failure under make test
	}
	if err != nil {
		t.Fatalf("start PHP-FPM and nginx: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("stop PHP-FPM and nginx: %v", err)
		}
	})
	return &side{
		name:    "php",
		version: srv.Version(),
		addr:    srv.Addr(),
		events:  events,
		dir:     signals,
		pathOf: func(sc *scenario) string {
			loc := sc.phpLoc
			if loc == "" {
				loc = "/"
			}
			script := sc.script
			if script == "" {
				script = sc.name
			}
			return loc + script + ".php"
		},
		pingPath: "/ping.php",
		waitIdle: srv.WaitIdle,
		logs:     srv.Logs,
	}
}

// startLifeline starts the Go side: every scenario's handler wrapped by one
// Lifeline pool on an httptest server configured with ConfigureServer.
func startLifeline(t *testing.T, dir string, all []*scenario) *side {
	t.Helper()
	signals := filepath.Join(dir, "signals")
	events := filepath.Join(dir, "go-events.log")
	elog, err := openEventLog(events)
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "lifeline.log"))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pool, err := lifeline.NewPool(lifeline.WithTimeLimit(10*time.Second), lifeline.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	comp, err := compress.New()
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := newSessions()
	if err != nil {
		t.Fatal(err)
	}
	env := &goEnv{log: elog, dir: signals, compressor: comp, sessions: sessions}
	mux := http.NewServeMux()
	mux.Handle("/ping", pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("pong"))
	})))
	for _, sc := range all {
		var h http.Handler = env.handler(sc.goCode)
		if sc.goWrap != nil {
			h = sc.goWrap(env, h)
		}
		mux.Handle("/"+sc.name, pool.Middleware()(h))
	}
	ts := httptest.NewUnstartedServer(mux)
	pool.ConfigureServer(ts.Config)
	ts.Config.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := pool.Shutdown(sctx); err != nil {
			t.Errorf("pool shutdown: %v", err)
		}
		_ = elog.close()
		_ = logFile.Close()
	})
	logPath := logFile.Name()
	return &side{
		name:     "lifeline",
		version:  "Lifeline from this tree, " + runtime.Version(),
		addr:     strings.TrimPrefix(ts.URL, "http://"),
		events:   events,
		dir:      signals,
		pathOf:   func(sc *scenario) string { return "/" + sc.name },
		pingPath: "/ping",
		waitIdle: func(ctx context.Context) error { return waitPoolIdle(ctx, pool) },
		logs: func() string {
			b, _ := os.ReadFile(logPath)
			if len(b) > 8192 {
				b = b[len(b)-8192:]
			}
			return string(b)
		},
	}
}

// waitPoolIdle waits until the pool has no run left, including runs still
// working after Finish.
func waitPoolIdle(ctx context.Context, pool *lifeline.Pool) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for pool.Stats().Active > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("lifeline: %d runs still active: %w", pool.Stats().Active, context.Cause(ctx))
		case <-tick.C:
		}
	}
	return nil
}
