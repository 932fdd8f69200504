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
// /demo/stream (lines sent: truncated), /demo/finish (answered by Finish,
// then cut by the limit).
func TestR3LimitsReference(t *testing.T) {
	n := pick(1000, 1000)
	rp := newReport(t, "R3-reference", "R3 limits under load, reference server (cmd/lifeline as a process)")
	rp.Load("`lifeline -time-limit 3s`; %d runs at once, each on its own connection: /demo/timeout (sleep, 1 in 10 spin), /demo/stream, /demo/finish; half past their limit (/demo/timeout limit=700ms busy=10s, /demo/stream 100 lines every 50ms, /demo/finish work=10s), half within it with wide margins (limit 5s busy 600ms, 6 lines every 100ms, work 300ms)", n)
	rp.Check("status page: time-limit hits = runs ended with status 2 (timeout) = the runs past their limit")
	rp.Check("clients past their limit: 503 with Retry-After for /demo/timeout, a truncated body for /demo/stream, the complete answer for /demo/finish (whose job is then interrupted by the time limit, status timeout); within: the exact answer")
	dir := dataDir(t)
	p := startProc(t, "lifeline", binary(t, refServerPkg), "-addr", "127.0.0.1:0", "-data", dir, "-time-limit", "3s", "-drain", "20s")
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
	finishJobs := map[uint64]bool{} // job id → past its limit
	for i, rep := range results {
		k := kinds[which[i]]
		if k.want != "complete" || strings.Contains(k.target, "work=10s") {
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
				var id uint64
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
		past, ok := finishJobs[j.ID]
		switch {
		case !ok:
			fail.add("job %d: no client was answered for it", j.ID)
		case past && (j.State != "interrupted" || j.Reason != "time limit" || j.Status != "timeout"):
			fail.add("job %d (past its limit): %s, %s, status %s; want interrupted, time limit, timeout", j.ID, j.State, j.Reason, j.Status)
		case !past && (j.State != "done" || j.Status != "normal"):
			fail.add("job %d: %s (%s), status %s; want done, normal", j.ID, j.State, j.Reason, j.Status)
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
