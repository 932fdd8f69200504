package suite

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lifeline-go/lifeline/bench/internal/loadgen"
	"github.com/lifeline-go/lifeline/bench/internal/report"
	"github.com/lifeline-go/lifeline/bench/internal/serve"
	"github.com/lifeline-go/lifeline/bench/internal/stats"
	"github.com/lifeline-go/lifeline/conformance/phpfpm"
)

const p5Goal = "requests per second for \"answer, then 200 ms of work\", Lifeline ÷ PHP-FPM behind nginx, same client and " +
	"concurrency: ≥ 100× against Debian's default pool (max_children 5), ≥ 30× against PHP-FPM tuned as its users " +
	"would tune it (the pool sized for the machine's memory, nginx not the cap)"

// p5Target is one server the load tool takes turns on.
type p5Target struct {
	name   string
	detail string // its settings, for the summary's rows
	url    string
	php    *phpfpm.Server // the pool to wait for after a run; nil for none
}

// p5Level is one concurrency and the servers compared at it; the first is
// the one the others are divided into.
type p5Level struct {
	load    loadgen.Load
	targets []*p5Target
	rps     map[*p5Target][]float64
	wrkCPU  map[*p5Target][]float64 // wrk's CPU time ÷ the run's duration
}

// p5 measures the seed scenario against PHP-FPM behind nginx, with the
// same wrk command for the servers compared, taking turns.
func (r *runner) p5(ctx context.Context, s *report.Section) error {
	sz := r.sz
	loadBefore := loadAvg()
	env, err := r.p5Start(ctx)
	defer env.close()
	if err != nil {
		return err
	}
	newLoad := func(conns int) loadgen.Load {
		return loadgen.Load{Conns: conns, Threads: 1, Duration: sz.p5Duration, Timeout: 10 * time.Second, CPUs: p5LoadCPUs}
	}
	levels := []*p5Level{
		{load: newLoad(sz.p5Conns), targets: []*p5Target{env.life, env.php5, env.phpT}},
		// The default pool would queue every request for seconds here, so
		// only Lifeline and the tuned pool are compared.
		{load: newLoad(sz.p5HighConns), targets: []*p5Target{env.life, env.phpT}},
		// The ceilings: what each side serves when a request is only a
		// hello.
		{load: newLoad(sz.p5Conns), targets: []*p5Target{env.lifeHello, env.phpHello}},
	}
	failed, err := p5Measure(ctx, levels, sz.p5Rounds)
	if err != nil {
		return err
	}
	s.Method = p5Method(sz, env)
	s.Commands = []string{r.suiteCommand("P5")}
	for _, lv := range levels[:2] {
		p5Report(s, env, lv, sz.p5Rounds)
	}
	p5Ceiling(s, env, levels, sz.p5Rounds)
	s.Notes = append(s.Notes,
		fmt.Sprintf("The machine is shared: load average (1, 5, 15 minutes) %s at P5's start, %s at its end. The scheduler "+
			"shares a CPU among runnable threads, so when other work wants CPU %s, PHP-FPM's runnable workers (up to one "+
			"per connection) take more of it than Lifeline's one; on a busy machine Lifeline's rates and every ratio here "+
			"come out lower than on a quiet one.", loadBefore, loadAvg(), p5ServerCPUs),
		fmt.Sprintf("Failed requests (non-2xx, socket errors, timeouts) over all runs: %d.", failed),
		"Deviation from Debian: its default pool is `pm = dynamic` (max_children 5, start_servers 2, spare 1–3); "+
			"conformance/phpfpm writes `pm = static`. Under this sustained load a dynamic pool runs at max_children after "+
			"its first second, so the steady-state rate is the same. The tuned pool is static, as tuning guides advise for "+
			"a server under sustained load: a dynamic pool of the same max_children forks at most 32 workers a second "+
			"(pm.max_spawn_rate).")
	return nil
}

// p5Measure warms every server up, then runs the rounds: at each level,
// each server in turn, the order rotated every round. It returns the
// number of failed requests.
func p5Measure(ctx context.Context, levels []*p5Level, rounds int) (int64, error) {
	warmed := map[*p5Target]bool{}
	for _, lv := range levels {
		warm := lv.load
		warm.Duration = time.Second
		for _, t := range lv.targets {
			if warmed[t] {
				continue
			}
			warmed[t] = true
			if _, err := loadgen.Wrk(ctx, t.url, warm); err != nil {
				return 0, err
			}
			if err := settle(ctx, t); err != nil {
				return 0, err
			}
		}
	}
	var failed int64
	for round := range rounds {
		for _, lv := range levels {
			if lv.rps == nil {
				lv.rps = make(map[*p5Target][]float64)
				lv.wrkCPU = make(map[*p5Target][]float64)
			}
			for k := range lv.targets {
				t := lv.targets[(k+round)%len(lv.targets)]
				res, err := loadgen.Wrk(ctx, t.url, lv.load)
				if err != nil {
					return failed, err
				}
				failed += res.Failed
				lv.rps[t] = append(lv.rps[t], res.RPS)
				lv.wrkCPU[t] = append(lv.wrkCPU[t], res.CPU.Seconds()/res.Duration.Seconds())
				if err := settle(ctx, t); err != nil {
					return failed, err
				}
			}
		}
	}
	return failed, nil
}

// p5Table adds one level's table to s and returns its wrk command.
func p5Table(s *report.Section, lv *p5Level, rounds int, caption string) string {
	first := lv.targets[0]
	cmd := "taskset -c " + p5LoadCPUs + " wrk " + joinArgs(loadgen.WrkArgs("http://127.0.0.1:PORT/PATH", lv.load))
	s.Commands = append(s.Commands, cmd)
	header := []string{"round"}
	for _, t := range lv.targets {
		header = append(header, t.name+" req/s")
	}
	for _, t := range lv.targets[1:] {
		header = append(header, first.name+" ÷ "+t.name)
	}
	header = append(header, "wrk's CPU, "+first.name)
	var rows [][]string
	for round := range rounds {
		row := []string{strconv.Itoa(round + 1)}
		for _, t := range lv.targets {
			row = append(row, fmt.Sprintf("%.1f", lv.rps[t][round]))
		}
		for _, t := range lv.targets[1:] {
			row = append(row, fmt.Sprintf("%.1f×", lv.rps[first][round]/lv.rps[t][round]))
		}
		row = append(row, report.Percent(lv.wrkCPU[first][round]))
		rows = append(rows, row)
	}
	s.Tables = append(s.Tables, report.Table{Caption: caption, Header: header, Rows: rows})
	return cmd
}

// p5Report adds one level's table and verdicts to s.
func p5Report(s *report.Section, env *p5Env, lv *p5Level, rounds int) {
	cmd := p5Table(s, lv, rounds, fmt.Sprintf("%d connections, successful responses per second (PATH: work or work.php):", lv.load.Conns))
	life := lv.targets[0]
	for _, t := range lv.targets[1:] {
		ratios := stats.Ratios(lv.rps[life], lv.rps[t])
		goal, want := "≥ 30×", 30.0
		if t == env.php5 {
			goal, want = "≥ 100×", 100
		}
		s.Verdicts = append(s.Verdicts, report.Verdict{
			Measurement: fmt.Sprintf("answer + 200 ms work: requests/s Lifeline ÷ %s (%s), %d connections; servers on CPU %s, wrk on CPU %s",
				t.name, t.detail, lv.load.Conns, p5ServerCPUs, p5LoadCPUs),
			Figure:  report.Spread(ratios, report.Fixed(1, "×")),
			Goal:    goal,
			Outcome: report.AtLeast(stats.Median(ratios), want),
			Command: cmd,
		})
	}
}

// p5Ceiling adds the ceilings' table, their verdict row and the note that
// says what they make of the goal.
func p5Ceiling(s *report.Section, env *p5Env, levels []*p5Level, rounds int) {
	lv := levels[2]
	cmd := p5Table(s, lv, rounds, fmt.Sprintf("Ceilings, %d connections, successful responses per second (PATH: / or hello.php):",
		lv.load.Conns))
	ratios := stats.Ratios(lv.rps[env.lifeHello], lv.rps[env.phpHello])
	s.Verdicts = append(s.Verdicts, report.Verdict{
		Measurement: "ceiling: requests/s Lifeline hello ÷ tuned PHP-FPM hello.php (no work after the answer), " +
			strconv.Itoa(lv.load.Conns) + " connections",
		Figure:  report.Spread(ratios, report.Fixed(1, "×")),
		Goal:    "shown",
		Outcome: report.Info,
		Command: cmd,
	})
	lifeHigh := stats.Median(levels[1].rps[env.life])
	phpT := stats.Median(levels[1].rps[env.phpT])
	lifeHello, phpHello := stats.Median(lv.rps[env.lifeHello]), stats.Median(lv.rps[env.phpHello])
	bound := "so it is bound by CPU, not by its workers"
	if phpT >= 0.9*5*float64(env.raised) {
		bound = "so it is bound by its workers"
	}
	wrkCPU := max(stats.Median(levels[1].wrkCPU[env.life]), stats.Median(lv.wrkCPU[env.lifeHello]))
	tool := fmt.Sprintf("wrk, on the other CPU, used at most %s of it (median, driving Lifeline's scenario at %d connections "+
		"or its hello), ", report.Percent(wrkCPU), levels[1].load.Conns)
	if wrkCPU < 0.9 {
		tool += "so the load tool was not Lifeline's cap"
	} else {
		tool += "so the load tool may have been Lifeline's cap"
	}
	need := lifeHigh / 30
	s.Notes = append(s.Notes, fmt.Sprintf("What bounds the ratio (medians at %d connections). The tuned pool's %d workers "+
		"could serve %d requests/s (5 per worker), and it served %.0f, %s; its hello.php, with no work after the answer, "+
		"ran at %.0f. Lifeline served the scenario at %.0f requests/s and a hello at %.0f on the same CPU; %s. Against a pool bound by CPU the ratio cannot go much past the two "+
		"hellos' ratio, %.1f×. 30× would need PHP-FPM at or under %.0f requests/s (Lifeline's %.0f ÷ 30), which a pool "+
		"of %d workers or fewer gives; memory allows %d. Had the pool been bound by its workers alone, 30× its %d "+
		"requests/s would be %d, %.0f× Lifeline's own hello on this CPU.",
		levels[1].load.Conns, env.raised, 5*env.raised, phpT, bound, phpHello, lifeHigh, lifeHello, tool,
		stats.Median(ratios), need, lifeHigh, int(need/5), env.byMemory, 5*env.raised, 30*5*env.raised,
		float64(30*5*env.raised)/lifeHello))
}

func p5Method(sz sizes, env *p5Env) []string {
	return []string{
		fmt.Sprintf("The seed scenario on both sides. PHP: `echo`, `fastcgi_finish_request()`, `usleep(200000)`, run by PHP-FPM "+
			"(%s) behind nginx, started by conformance/phpfpm. Lifeline: write, `Run.Finish`, sleep 200 ms, in a server process "+
			"of its own with the pool's defaults (no cap on runs) and `Pool.ConfigureServer`. Every server, with all its "+
			"workers, runs on CPU %s (`taskset -c %s`; Lifeline's GOMAXPROCS is 1); wrk runs on CPU %s. The same wrk command "+
			"(%v per run, 10 s request timeout) takes turns on the servers compared at one concurrency, %s, the order rotated "+
			"every round; each round gives the ratios. PHP answers before its 200 ms of work, so a closed-loop client does "+
			"not wait for that work: a pool of n workers serves at most 5n requests per second (each worker is busy 200 ms "+
			"per request) whatever the number of connections, and fewer connections than workers keep it saturated.",
			env.version, p5ServerCPUs, p5ServerCPUs, p5LoadCPUs, sz.p5Duration, report.Plural(sz.p5Rounds, "round")),
		fmt.Sprintf("Debian's default pool: 5 workers, OPcache on (as Debian ships it), nginx as conformance/phpfpm writes it "+
			"(1 worker, `worker_connections 512`). Tuned pool, sized as PHP-FPM's tuning guides size it: after the warm-up, "+
			"the %d workers of the default pool averaged %.1f MiB RSS; with %.1f GiB available, memory allows %d workers; "+
			"the suite starts min(that, %d) = %d, and waits the %s they take to fork. Its settings: %s. "+
			"PHP-FPM's workers, nginx and Lifeline all run on the same CPU.",
			env.nWorkers, float64(env.workerRSS)/(1<<20), float64(env.avail)/(1<<30), env.byMemory, sz.p5RaisedCap,
			env.raised, env.forked.Round(100*time.Millisecond), env.tuningText()),
	}
}

// loadAvg returns the three load averages of /proc/loadavg, "?" if
// unknown.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

// settle waits until a server has finished the work of the last run:
// PHP-FPM's workers idle, or Lifeline's runs past their 200 ms.
func settle(ctx context.Context, t *p5Target) error {
	wait := serve.WorkAfterFinish + 300*time.Millisecond
	if t.php != nil {
		wait = 300 * time.Millisecond // then the pool's status page says when
	}
	select {
	case <-time.After(wait):
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	if t.php == nil {
		return nil
	}
	return waitIdle(ctx, t.php)
}

func waitIdle(ctx context.Context, s *phpfpm.Server) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return s.WaitIdle(ctx)
}
