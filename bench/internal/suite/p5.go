package suite

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/loadgen"
	"github.com/lifeline-go/lifeline/bench/internal/report"
	"github.com/lifeline-go/lifeline/bench/internal/serve"
	"github.com/lifeline-go/lifeline/bench/internal/stats"
	"github.com/lifeline-go/lifeline/conformance/phpfpm"
)

const p5Goal = "requests per second for \"answer, then 200 ms of work\", Lifeline ÷ PHP-FPM behind nginx, same client and " +
	"concurrency: ≥ 100× against Debian's default pool (max_children 5), ≥ 10× against a pool raised to what the " +
	"machine's memory allows"

// p5Target is one server the load tool takes turns on.
type p5Target struct {
	name string
	url  string
	php  *phpfpm.Server // nil for Lifeline
}

// p5Level is one concurrency and the servers compared at it.
type p5Level struct {
	load    loadgen.Load
	targets []*p5Target
	rps     map[*p5Target][]float64
}

// p5 measures the seed scenario against PHP-FPM behind nginx, with the
// same wrk command for the servers compared, taking turns.
func (r *runner) p5(ctx context.Context, s *report.Section) error {
	sz := r.sz
	env, err := r.p5Start(ctx)
	defer env.close()
	if err != nil {
		return err
	}
	newLoad := func(conns int) loadgen.Load {
		return loadgen.Load{Conns: conns, Threads: 1, Duration: sz.p5Duration, Timeout: 10 * time.Second}
	}
	levels := []*p5Level{
		{load: newLoad(sz.p5Conns), targets: []*p5Target{env.life, env.php5, env.phpN}},
		// The default pool would queue every request for seconds here, so
		// only Lifeline and the raised pool are compared.
		{load: newLoad(sz.p5HighConns), targets: []*p5Target{env.life, env.phpN}},
	}
	failed, err := p5Measure(ctx, levels, sz.p5Rounds, newLoad(sz.p5Conns))
	if err != nil {
		return err
	}
	s.Method = p5Method(sz, env)
	s.Commands = []string{r.suiteCommand("P5")}
	for _, lv := range levels {
		p5Report(s, env, lv, sz.p5Rounds)
	}
	s.Notes = append(s.Notes,
		fmt.Sprintf("Failed requests (non-2xx, socket errors, timeouts) over all runs: %d.", failed),
		"Deviation from the issue: Debian's default pool is `pm = dynamic` (max_children 5, start_servers 2, spare 1–3); "+
			"conformance/phpfpm only writes `pm = static`, so both pools here are static. Under this sustained load a dynamic pool "+
			"runs at max_children after its first second, so the steady-state rate is the same; a `WithProcessManager` option in "+
			"conformance/phpfpm would remove the difference.",
		"PHP runs without php.ini (`php-fpm -n`, as conformance/phpfpm starts it), so without OPcache; the script is four lines "+
			"and the worker is asleep for 200 ms of each request, so this does not change the ceiling above.")
	return nil
}

// p5Measure warms every server up, then runs the rounds: at each level,
// each server in turn, the order rotated every round. It returns the
// number of failed requests.
func p5Measure(ctx context.Context, levels []*p5Level, rounds int, warm loadgen.Load) (int64, error) {
	warm.Duration = time.Second
	for _, t := range levels[0].targets {
		if _, err := loadgen.Wrk(ctx, t.url, warm); err != nil {
			return 0, err
		}
		if err := settle(ctx, t); err != nil {
			return 0, err
		}
	}
	var failed int64
	for round := range rounds {
		for _, lv := range levels {
			if lv.rps == nil {
				lv.rps = make(map[*p5Target][]float64)
			}
			for k := range lv.targets {
				t := lv.targets[(k+round)%len(lv.targets)]
				res, err := loadgen.Wrk(ctx, t.url, lv.load)
				if err != nil {
					return failed, err
				}
				lv.rps[t] = append(lv.rps[t], res.RPS)
				failed += res.Failed
				if err := settle(ctx, t); err != nil {
					return failed, err
				}
			}
		}
	}
	return failed, nil
}

// p5Report adds one level's table and verdicts to s.
func p5Report(s *report.Section, env *p5Env, lv *p5Level, rounds int) {
	life := lv.targets[0]
	cmd := "wrk " + joinArgs(loadgen.WrkArgs("http://127.0.0.1:PORT/work[.php]", lv.load))
	s.Commands = append(s.Commands, cmd)
	header := []string{"round"}
	for _, t := range lv.targets {
		header = append(header, t.name+" req/s")
	}
	for _, t := range lv.targets[1:] {
		header = append(header, "Lifeline ÷ "+t.name)
	}
	var rows [][]string
	for round := range rounds {
		row := []string{strconv.Itoa(round + 1)}
		for _, t := range lv.targets {
			row = append(row, fmt.Sprintf("%.1f", lv.rps[t][round]))
		}
		for _, t := range lv.targets[1:] {
			row = append(row, fmt.Sprintf("%.1f×", lv.rps[life][round]/lv.rps[t][round]))
		}
		rows = append(rows, row)
	}
	s.Tables = append(s.Tables, report.Table{
		Caption: fmt.Sprintf("%d connections, successful responses per second:", lv.load.Conns),
		Header:  header,
		Rows:    rows,
	})
	for _, t := range lv.targets[1:] {
		ratios := stats.Ratios(lv.rps[life], lv.rps[t])
		goal, want := "≥ 10×", 10.0
		if t == env.php5 {
			goal, want = "≥ 100×", 100
		}
		s.Verdicts = append(s.Verdicts, report.Verdict{
			Measurement: fmt.Sprintf("answer + 200 ms work: requests/s Lifeline ÷ %s, %d connections", t.name, lv.load.Conns),
			Figure:      report.Spread(ratios, report.Fixed(1, "×")),
			Goal:        goal,
			Outcome:     report.AtLeast(stats.Median(ratios), want),
			Command:     cmd,
		})
	}
}

func p5Method(sz sizes, env *p5Env) []string {
	return []string{
		fmt.Sprintf("The seed scenario on both sides. PHP: `echo`, `fastcgi_finish_request()`, `usleep(200000)`, run by PHP-FPM "+
			"(%s) behind nginx, started by conformance/phpfpm. Lifeline: write, `Run.Finish`, sleep 200 ms, in a server process "+
			"of its own with the pool's defaults and `Pool.ConfigureServer`. The same wrk command (%v per run, 10 s request "+
			"timeout) takes turns on the servers compared at one concurrency, %s, the order rotated every round; each round "+
			"gives the ratios. A PHP-FPM worker stays busy for the 200 ms after fastcgi_finish_request, so a pool of n workers "+
			"serves at most n ÷ 0.2 s requests per second, and never more than connections ÷ 0.2 s with a closed-loop client: "+
			"%.0f at %d connections, %.0f at %d.",
			env.version, sz.p5Duration, report.Plural(sz.p5Rounds, "round"),
			float64(sz.p5Conns)/0.2, sz.p5Conns, float64(sz.p5HighConns)/0.2, sz.p5HighConns),
		fmt.Sprintf("Raised pool: after the warm-up, the %d workers of the default pool averaged %.1f MiB RSS; with %.1f GiB "+
			"available, memory allows %d workers; the suite starts min(that, %d) = %d. The cap: conformance/phpfpm's nginx has "+
			"`worker_connections 512`, so it cannot hold more than about 255 proxied requests at once, and the client holds "+
			"at most %d connections.",
			env.nWorkers, float64(env.workerRSS)/(1<<20), float64(env.avail)/(1<<30), env.byMemory, sz.p5RaisedCap, env.raised, sz.p5HighConns),
	}
}

// settle waits until a server has finished the work of the last run:
// PHP-FPM's workers idle, or Lifeline's runs past their 200 ms.
func settle(ctx context.Context, t *p5Target) error {
	if t.php == nil {
		select {
		case <-time.After(serve.WorkAfterFinish + 300*time.Millisecond):
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return waitIdle(ctx, t.php)
}

func waitIdle(ctx context.Context, s *phpfpm.Server) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return s.WaitIdle(ctx)
}
