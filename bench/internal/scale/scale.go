// Package scale measures how many runs a process can keep in flight and
// what each costs in resident memory (P6 of the suite): n requests are
// served in-process, each run arms a time limit, registers a shutdown
// function, answers with Finish and then keeps working until all n are in
// flight; the process's RSS is read at that moment and compared with its
// RSS before. The same is done for the hand-rolled Go baseline, a
// goroutine with a timer and a deferred function per request.
package scale

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifeline-go/lifeline"
)

// Modes measured by [Measure].
const (
	// ModeLifeline serves each request through a Lifeline pool.
	ModeLifeline = "lifeline"
	// ModeGoroutine answers each request bare and starts a goroutine with
	// a timer and a deferred function for the work after the answer.
	ModeGoroutine = "goroutine"
)

// ErrUsage is returned for invalid settings.
var ErrUsage = errors.New("scale: invalid settings")

// Settings bound one measurement.
type Settings struct {
	// Mode is ModeLifeline or ModeGoroutine.
	Mode string
	// Runs is the number of runs to hold in flight at once.
	Runs int
	// Deadline bounds the ramp-up: runs not in flight by then are counted
	// as not held.
	Deadline time.Duration
	// MaxRSS stops the ramp-up when the process's RSS exceeds it, so that a
	// machine without the memory is reported as not holding the runs
	// rather than swapping or being killed. 0 means no bound.
	MaxRSS int64
}

// Result is what one measurement found.
type Result struct {
	Mode string `json:"mode"`
	// Runs is the number asked for; InFlight how many were in flight at
	// once; Held whether all of them were, and all ended cleanly after.
	Runs     int  `json:"runs"`
	InFlight int  `json:"in_flight"`
	Held     bool `json:"held"`
	// Served is the number of requests served; it falls short of Runs
	// when the ramp-up was stopped.
	Served int `json:"served"`
	// RSSBefore and RSSInFlight are the process's resident set, in bytes,
	// before the first request and with every run in flight (both after a
	// garbage collection).
	RSSBefore   int64 `json:"rss_before"`
	RSSInFlight int64 `json:"rss_in_flight"`
	// Goroutines is the number of goroutines with every run in flight.
	Goroutines int `json:"goroutines"`
	// HeapInuse and StackInuse are the Go runtime's figures, in bytes, with
	// every run in flight.
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
	// ShutdownRan counts the shutdown functions (deferred functions for the
	// baseline) that ran after the runs were let go.
	ShutdownRan int64 `json:"shutdown_ran"`
	// Ramp is how long it took to put the runs in flight; Drain how long
	// they took to end once let go.
	Ramp  time.Duration `json:"ramp_ns"`
	Drain time.Duration `json:"drain_ns"`
	// Note says why the runs were not held, if they were not.
	Note string `json:"note,omitempty"`
}

// BytesPerRun returns the growth of the resident set per run in flight.
func (r Result) BytesPerRun() float64 {
	if r.InFlight == 0 {
		return 0
	}
	return float64(r.RSSInFlight-r.RSSBefore) / float64(r.InFlight)
}

// timeLimit is each run's time limit: a timer per run, long enough never
// to fire during the measurement.
const timeLimit = 10 * time.Minute

// Measure holds s.Runs runs in flight and reports their cost. It must run
// in a process of its own, as the RSS it reads is the whole process's.
func Measure(ctx context.Context, s Settings) (Result, error) {
	if s.Runs <= 0 || s.Deadline <= 0 || (s.Mode != ModeLifeline && s.Mode != ModeGoroutine) {
		return Result{}, fmt.Errorf("%w: %+v", ErrUsage, s)
	}
	res := Result{Mode: s.Mode, Runs: s.Runs}
	var (
		inFlight, ended atomic.Int64
		release         = make(chan struct{})
		wg              sync.WaitGroup
	)
	work := func() {
		inFlight.Add(1)
		<-release
	}
	var h http.Handler
	var pool *lifeline.Pool
	switch s.Mode {
	case ModeLifeline:
		var err error
		pool, err = lifeline.NewPool(lifeline.WithTimeLimit(timeLimit), lifeline.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			return res, fmt.Errorf("scale: %w", err)
		}
		h = pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn, _ := lifeline.FromContext(r.Context())
			rn.RegisterShutdown(func(context.Context, *lifeline.Run) { ended.Add(1) })
			_, _ = io.WriteString(w, "ok\n")
			_ = rn.Finish()
			work()
		}))
	case ModeGoroutine:
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "ok\n")
			wg.Add(1)
			go func() {
				defer wg.Done()
				t := time.AfterFunc(timeLimit, func() {})
				defer t.Stop()
				defer ended.Add(1)
				work()
			}()
		})
	}

	res.RSSBefore = settledRSS()
	start := time.Now()
	res.Served, res.Note = ramp(ctx, h, s, &inFlight, start)
	res.Ramp = time.Since(start)
	res.InFlight = int(inFlight.Load())
	res.RSSInFlight = settledRSS()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapInuse, res.StackInuse = ms.HeapInuse, ms.StackInuse
	res.Goroutines = runtime.NumGoroutine()

	close(release)
	drainStart := time.Now()
	dctx, cancel := context.WithTimeout(ctx, s.Deadline)
	defer cancel()
	var err error
	if pool != nil {
		err = pool.Shutdown(dctx)
	} else {
		wg.Wait()
	}
	res.Drain = time.Since(drainStart)
	res.ShutdownRan = ended.Load()
	res.Held = res.Note == "" && res.InFlight == s.Runs && res.ShutdownRan == int64(res.Served) && err == nil
	if err != nil && res.Note == "" {
		res.Note = err.Error()
	}
	return res, nil
}

// ramp serves s.Runs requests from a few goroutines and waits until every
// run is in flight. It returns the number of requests served and why it
// stopped short, or "".
func ramp(ctx context.Context, h http.Handler, s Settings, inFlight *atomic.Int64, start time.Time) (int, string) {
	var issued, served atomic.Int64
	var stop atomic.Value // string: why the ramp stopped
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) * 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for issued.Add(1) <= int64(s.Runs) {
				if stop.Load() != nil {
					return
				}
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				h.ServeHTTP(newWriter(), r)
				served.Add(1)
			}
		}()
	}
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for inFlight.Load() < int64(s.Runs) {
			select {
			case <-ctx.Done():
				stop.Store("cancelled: " + context.Cause(ctx).Error())
				return
			case <-tick.C:
			}
			if time.Since(start) > s.Deadline {
				stop.Store(fmt.Sprintf("only %d of %d runs in flight after %v", inFlight.Load(), s.Runs, s.Deadline))
				return
			}
			if s.MaxRSS > 0 {
				if rss := RSS(); rss > s.MaxRSS {
					stop.Store(fmt.Sprintf("stopped at %d runs: RSS %d MB over the %d MB bound", inFlight.Load(), rss>>20, s.MaxRSS>>20))
					return
				}
			}
		}
	}()
	wg.Wait()
	<-watchDone
	if v := stop.Load(); v != nil {
		return int(served.Load()), v.(string)
	}
	return int(served.Load()), ""
}

// writer is a minimal ResponseWriter, so that what is measured is the run
// and not a recorder.
type writer struct{ h http.Header }

func newWriter() *writer                      { return &writer{h: make(http.Header)} }
func (w *writer) Header() http.Header         { return w.h }
func (w *writer) Write(p []byte) (int, error) { return len(p), nil }
func (w *writer) WriteHeader(int)             {}
func (w *writer) Flush()                      {}

// settledRSS collects garbage, returns freed memory to the system and
// reads the RSS.
func settledRSS() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	return RSS()
}

// RSS returns the process's resident set size in bytes (VmRSS in
// /proc/self/status), or 0 where it cannot be read.
func RSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// Main is the child process's entry point: it parses args (-mode, -runs,
// -deadline, -max-rss-mb), measures, and prints the Result as JSON on
// stdout.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var s Settings
	var maxMB int64
	fs.StringVar(&s.Mode, "mode", ModeLifeline, "lifeline or goroutine")
	fs.IntVar(&s.Runs, "runs", 100000, "runs to hold in flight")
	fs.DurationVar(&s.Deadline, "deadline", time.Minute, "bound on the ramp-up and on the drain")
	fs.Int64Var(&maxMB, "max-rss-mb", 0, "stop the ramp-up above this RSS (0: no bound)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	s.MaxRSS = maxMB << 20
	res, err := Measure(ctx, s)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(res)
}
