// Package suite runs the benchmark suite of issue 9: each part (P1 … P8)
// measures Lifeline against its baseline in the same run, alternating
// rounds, and the results are rendered as Markdown with plots.
package suite

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrConfig is returned by [Run] for an invalid configuration.
var ErrConfig = errors.New("suite: invalid configuration")

// Parts lists every part, in the order they run.
var Parts = []string{"P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8"}

// Config says what to run and where to write.
type Config struct {
	// Repo is the module's root directory (go test -c runs there).
	Repo string
	// OutDir receives the plots; Markdown is the report's path.
	OutDir   string
	Markdown string
	// Splice, when set, is an existing Markdown file whose section between
	// the report package's markers is replaced with the report too.
	Splice string
	// Smoke runs one round of everything with tiny counts, to check that
	// the suite works; its figures mean nothing.
	Smoke bool
	// Only restricts the run to these parts (empty: all).
	Only []string
	// Timeout bounds the whole run.
	Timeout time.Duration
	// Executable is the program to start child processes with (servers
	// under load, scale measurements): this program, with "child" first.
	Executable string
	// Command is how the suite was invoked, shown in the report.
	Command string
}

func (c *Config) validate() error {
	switch {
	case c.Repo == "" || c.OutDir == "" || c.Markdown == "" || c.Executable == "":
		return fmt.Errorf("%w: Repo, OutDir, Markdown and Executable are required", ErrConfig)
	case c.Timeout <= 0:
		return fmt.Errorf("%w: Timeout must be positive", ErrConfig)
	}
	for _, p := range c.Only {
		if !slices.Contains(Parts, strings.ToUpper(p)) {
			return fmt.Errorf("%w: unknown part %q (want one of %s)", ErrConfig, p, strings.Join(Parts, ", "))
		}
	}
	return nil
}

func (c *Config) runs(part string) bool {
	if len(c.Only) == 0 {
		return true
	}
	return slices.ContainsFunc(c.Only, func(p string) bool { return strings.EqualFold(p, part) })
}

// sizes are the counts and durations of one run, full or smoke.
type sizes struct {
	p1Rounds      int           // peers driver: rounds of every variant
	p1Duration    time.Duration // peers driver: one load run
	p1Warmup      time.Duration // peers driver: warm-up run per server
	p1BenchTime   string
	p1BenchRounds int
	p1InstrN      int // driver instr: -n (requests counted per variant for hello; fewer for the heavier workloads)
	p1InstrWarm   int // driver instr: -warm

	p2Trials, p2MaxMisses int
	p2Cap                 time.Duration

	p3Trials int
	p3Cap    time.Duration

	p4Requests int
	p4Work     time.Duration
	p4Body     int

	p5Rounds    int
	p5Duration  time.Duration
	p5Conns     int // connections for all three servers
	p5HighConns int // connections for Lifeline and the tuned pool only
	p5RaisedCap int // most PHP-FPM workers started for the tuned pool (its master holds two pipes per worker)

	p6Runs     int
	p6Rounds   int
	p6Deadline time.Duration

	p7Rounds    int
	p7BenchTime string

	p8Handoffs, p8Rounds int
}

func fullSizes() sizes {
	return sizes{
		p1Rounds: 6, p1Duration: time.Second, p1Warmup: time.Second,
		p1BenchTime: "20000x", p1BenchRounds: 9, p1InstrN: 4000, p1InstrWarm: 300,
		p2Trials: 1000, p2MaxMisses: 3, p2Cap: time.Second,
		p3Trials: 5, p3Cap: 12 * time.Second,
		p4Requests: 1000, p4Work: 200 * time.Millisecond, p4Body: 3000,
		p5Rounds: 3, p5Duration: 4 * time.Second, p5Conns: 64, p5HighConns: 1024, p5RaisedCap: 4000,
		p6Runs: 100_000, p6Rounds: 3, p6Deadline: 2 * time.Minute,
		p7Rounds: 5, p7BenchTime: "100x",
		p8Handoffs: 500, p8Rounds: 4,
	}
}

func smokeSizes() sizes {
	return sizes{
		p1Rounds: 1, p1Duration: 500 * time.Millisecond, p1Warmup: 200 * time.Millisecond, // as the driver's -smoke
		p1BenchTime: "2000x", p1BenchRounds: 1, p1InstrN: 200, p1InstrWarm: 50, // as driver instr -smoke
		p2Trials: 20, p2MaxMisses: 1, p2Cap: 300 * time.Millisecond,
		p3Trials: 1, p3Cap: 8 * time.Second,
		p4Requests: 20, p4Work: 200 * time.Millisecond, p4Body: 3000,
		p5Rounds: 1, p5Duration: time.Second, p5Conns: 8, p5HighConns: 16, p5RaisedCap: 8,
		p6Runs: 2000, p6Rounds: 1, p6Deadline: 30 * time.Second,
		p7Rounds: 1, p7BenchTime: "5x",
		p8Handoffs: 20, p8Rounds: 1,
	}
}
