package reliability

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBoundedJobs sends many /demo/finish?work=60s to the reference server
// with its default limits: each is answered at once and its job waits in
// the database; at most -max-jobs jobs work at once, the runs end at
// Finish, and the process's memory stays bounded (issue 15: 20,000 such
// requests were once all accepted as live runs, RSS 14.6 MB → 358 MB).
func TestBoundedJobs(t *testing.T) {
	n := pick(2000, 20000)
	rp := newReport(t, "bounded-jobs", "Bounded: many jobs of 60s through /demo/finish")
	rp.Load("`lifeline` with its default limits (-max-active 1000, -max-jobs 100); %d GET /demo/finish?work=60s, 100 at a time", n)
	rp.Check("every request answered 200 at once; at most 100 jobs running, the others waiting in the database; the peak RSS stays far below the 358 MB of the unbounded server")
	dir := dataDir(t)
	p := startProc(t, "lifeline", binary(t, refServerPkg), "-addr", "127.0.0.1:0", "-data", dir, "-drain", "1s")
	before := rss(t, p, "VmRSS")
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 100, MaxConnsPerHost: 100}}
	defer client.CloseIdleConnections()
	var (
		fail failures
		wg   sync.WaitGroup
		mu   sync.Mutex
		lat  []time.Duration
	)
	sem := make(chan struct{}, 100)
	start := time.Now()
	for range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			t0 := time.Now()
			resp, err := client.Get(p.base + "/demo/finish?work=60s")
			if err != nil {
				fail.add("finish: %v", err)
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				fail.add("finish: %d %v", resp.StatusCode, err)
				return
			}
			mu.Lock()
			lat = append(lat, time.Since(t0))
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var jl struct{ States map[string]int64 }
	getJSON(t, p.base+"/demo/jobs?limit=1", &jl)
	var snap statusSnapshot
	getJSON(t, p.base+"/status?json", &snap)
	peak := rss(t, p, "VmHWM")
	rp.Figure("answers", "%d in %v (%.0f/s), latency %s", len(lat), elapsed.Round(time.Millisecond), float64(len(lat))/elapsed.Seconds(), latencies(lat))
	rp.Figure("jobs after the load", "running %d, available %d", jl.States["running"], jl.States["available"])
	rp.Figure("runs", "at most %d at once; %d active after the load", snap.MaxActiveRuns, snap.ActiveRuns)
	rp.Figure("RSS", "%.1f MB before, peak %.1f MB", float64(before)/1024, float64(peak)/1024)
	if jl.States["running"] > 100 || jl.States["running"]+jl.States["available"] != int64(n) {
		fail.add("jobs: %v, want at most 100 running and the %d others available", jl.States, n)
	}
	if snap.MaxActiveRuns > 1000 {
		fail.add("%d runs at once, over -max-active 1000", snap.MaxActiveRuns)
	}
	if peak > 200*1024 {
		fail.add("peak RSS %d kB", peak)
	}
	if code := p.stop(t, 30*time.Second); code != 0 {
		fail.add("exit status %d", code)
	}
	if want := fmt.Sprintf("%d jobs left for later", n); !strings.Contains(p.stdout.String(), want) {
		fail.add("stdout %q, want %q", p.stdout.String(), want)
	}
	rp.Figure("violations", "%d", fail.n())
	if fail.n() > 0 {
		t.Errorf("%d violations:%s", fail.n(), fail.String())
	}
}

// rss returns a memory figure of p's process from /proc (VmRSS, VmHWM) in kB.
func rss(t *testing.T, p *proc, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatalf("no %s in /proc/PID/status", field)
	return 0
}
