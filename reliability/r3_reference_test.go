package reliability

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestR3LimitsReference runs 1,000 runs at once on the reference server,
// half past their time limit: /demo/timeout (nothing sent: 503),
// /demo/stream (lines sent: truncated); and /demo/finish, whose work after
// the answer is a durable job, bound by the job timeout, not by the run's
// time limit.
func TestR3LimitsReference(t *testing.T) {
	n := pick(1000, 1000)
	rp := newReport(t, "R3-reference", "R3 limits under load, reference server (cmd/lifeline as a process)")
	rp.Load("`lifeline -time-limit 3s`; %d runs at once, each on its own connection: /demo/timeout (sleep, 1 in 10 spin), /demo/stream, /demo/finish; half past their limit (/demo/timeout limit=700ms busy=10s, /demo/stream 100 lines every 50ms), half within it with wide margins (limit 5s busy 600ms, 6 lines every 100ms); /demo/finish with jobs of 10s (past the runs' limit) and 300ms", n)
	rp.Check("status page: time-limit hits = runs ended with status 2 (timeout) = the runs past their limit")
	rp.Check("clients past their limit: 503 with Retry-After for /demo/timeout, a truncated body for /demo/stream, the complete answer for /demo/finish, whose job completes (the run's time limit does not bind a durable job); within: the exact answer")
	dir := dataDir(t)
	p := startProc(t, "lifeline", binary(t, refServerPkg), "-addr", "127.0.0.1:0", "-data", dir, "-time-limit", "3s", "-drain", "20s", "-max-jobs", "1000")
	type kind struct {
		route, target, want string
	}
	kinds := []kind{
		{"timeout", "/demo/timeout?limit=700ms&busy=10s&mode=sleep", "timeout response"},
		{"timeout", "/demo/timeout?limit=5s&busy=600ms&mode=sleep", "complete"},
		{"stream", "/demo/stream?lines=100&every=50ms", "truncated"},
		{"stream", "/demo/stream?lines=6&every=100ms", "complete"},
		{"finish", "/demo/finish?work=10s", "complete"},
		{"finish", "/demo/finish?work=300ms", "complete"},
	}
	calls := make([]*call, n)
	which := make([]int, n)
	for i := range calls {
		k := i % len(kinds)
		target := kinds[k].target
		if k == 0 && i%10 == 0 {
			target = "/demo/timeout?limit=700ms&busy=10s&mode=spin"
		}
		calls[i] = &call{tag: uint64(i + 1), method: http.MethodGet, target: target, act: actFinish}
		which[i] = k
	}
	start := time.Now()
	results, err := allAtOnce(p.addr, calls)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	var fail failures
	outcomes := counter{}
	over := 0
	finishJobs := map[int64]bool{} // job id → past the runs' limit
	for i, rep := range results {
		k := kinds[which[i]]
		if k.want != "complete" {
			over++
		}
		got, err := r3Outcome(rep, func(body []byte) error {
			switch k.route {
			case "stream":
				if n := strings.Count(string(body), "\n"); n != 6 {
					return fmt.Errorf("%d lines", n)
				}
			case "finish":
				m := jobLine.FindStringSubmatch(strings.TrimSuffix(strings.TrimPrefix(string(body), finishMessage), "\n"))
				if m == nil {
					return fmt.Errorf("body %q", body)
				}
				var id int64
				fmt.Sscan(m[1], &id)
				finishJobs[id] = strings.Contains(k.target, "work=10s")
			case "timeout":
				if !strings.HasPrefix(string(body), "worked ") {
					return fmt.Errorf("body %q", body)
				}
			}
			return nil
		})
		outcomes[calls[i].target+": "+got]++
		switch {
		case err != nil:
			fail.add("%s: %v", calls[i].target, err)
		case got != k.want:
			fail.add("%s: the client got a %s response, want %s", calls[i].target, got, k.want)
		}
	}
	snap := waitIdle(t, p.base, 30*time.Second)
	if snap.TimeLimitHits != uint64(over) || snap.EndedByStatus["2"] != uint64(over) {
		fail.add("status page: %s; want %d time-limit hits and runs ended with status 2", fmtStatus(snap), over)
	}
	if code := p.stop(t, 60*time.Second); code != 0 {
		fail.add("exit status %d", code)
	}
	p.checkLog(t)
	jobs, err := refJobs(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		_, ok := finishJobs[j.ID]
		switch {
		case !ok:
			fail.add("job %d: no client was answered for it", j.ID)
		case j.State != "completed":
			fail.add("job %d: %s after the drain, want completed", j.ID, j.State)
		}
	}
	rp.Figure("runs", "%d in %v, at most %d at once", n, elapsed.Round(time.Millisecond), snap.MaxActiveRuns)
	rp.Figure("status page", "%s", fmtStatus(snap))
	rp.Figure("what the clients got", "%s", outcomes)
	rp.Figure("violations", "%d", fail.n())
	if fail.n() > 0 {
		t.Errorf("%d violations:%s", fail.n(), fail.String())
	}
}
