package reliability

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// refCall is a call of the storm against the reference server.
type refCall struct {
	*call
	route   string
	ref     string // order reference
	timeout bool   // the run exceeds its time limit
	lines   int    // stream: lines asked for
	pad     int    // finish: filler bytes
}

const finishMessage = "We'll email you as soon as this is done.\n"

// genReference returns n calls against the reference server's demos.
func genReference(rng *rand.Rand, n int) []*refCall {
	out := make([]*refCall, 0, n)
	for i := range n {
		c := &refCall{call: &call{tag: uint64(i + 1), method: http.MethodGet, header: http.Header{}}}
		c.route = []string{"stream", "order", "finish", "close-early", "timeout", "timeout-reset"}[weighted(rng, 30, 6, 22, 10, 22, 10)]
		c.act = action(weighted(rng, 45, 10, 15, 15, 8, 7))
		if (c.route == "timeout" || c.route == "timeout-reset") && c.act.leaves() {
			c.act = actFinish
		}
		c.stall = durBetween(rng, 0, 30*time.Millisecond)
		c.leaveAfter = durBetween(rng, 0, 30*time.Millisecond)
		switch c.route {
		case "stream":
			c.lines = 1 + rng.IntN(5)
			every := durBetween(rng, 0, 2*time.Millisecond)
			if c.act.leaves() {
				c.lines, every = 200, 5*time.Millisecond
			}
			c.target = fmt.Sprintf("/demo/stream?lines=%d&every=%v", c.lines, every)
		case "order":
			c.method = http.MethodPost
			c.ref = "R1-" + strconv.Itoa(i+1)
			c.target = fmt.Sprintf("/demo/order?work=%v&ref=%s", durBetween(rng, 0, 3*time.Millisecond), c.ref)
			c.header.Set("Idempotency-Key", "storm-"+c.ref)
		case "finish":
			c.pad = rng.IntN(3000)
			c.target = fmt.Sprintf("/demo/finish?work=%v&pad=%d", durBetween(rng, 0, 20*time.Millisecond), c.pad)
			if ae := acceptEncodings[rng.IntN(len(acceptEncodings))]; ae != "" {
				c.header.Set("Accept-Encoding", ae)
			}
		case "close-early":
			c.target = fmt.Sprintf("/demo/close-early?work=%v", durBetween(rng, 0, 20*time.Millisecond))
		case "timeout":
			mode, limit, busy := "sleep", durBetween(rng, time.Second, 2*time.Second), durBetween(rng, 0, time.Millisecond)
			if rng.IntN(2) == 0 {
				c.timeout = true
				limit = durBetween(rng, 50*time.Millisecond, 80*time.Millisecond)
				if rng.IntN(10) == 0 {
					mode, limit = "spin", durBetween(rng, 5*time.Millisecond, 10*time.Millisecond)
				}
				busy = limit + 2*time.Second
			}
			c.target = fmt.Sprintf("/demo/timeout?limit=%v&busy=%v&mode=%s", limit, busy, mode)
		case "timeout-reset":
			c.target = fmt.Sprintf("/demo/timeout-reset?limit=1s&before=%v&reset=1s&after=%v",
				durBetween(rng, 0, time.Millisecond), durBetween(rng, 0, time.Millisecond))
		}
		out = append(out, c)
	}
	return out
}

var (
	streamLine = regexp.MustCompile(`^line (\d+) of (\d+) at \d\d:\d\d:\d\d\.\d\d\d$`)
	jobLine    = regexp.MustCompile(`^\(job (\d+): [^ ]+ of work; see /demo/jobs\)$`)
)

// checkReferenceReply checks what a client that read its response got; it
// returns the job id a /demo/finish answer names, or 0.
func checkReferenceReply(c *refCall, rep reply) (job uint64, err error) {
	if rep.err != nil || rep.resp == nil {
		return 0, fmt.Errorf("no response: %v", rep.err)
	}
	code := rep.resp.StatusCode
	if rep.bodyErr != nil {
		return 0, fmt.Errorf("status %d, body: %v", code, rep.bodyErr)
	}
	if err := checkLength(rep.resp, rep.body); err != nil {
		return 0, err
	}
	body, err := decodeBody(rep.resp, rep.body)
	if err != nil {
		return 0, err
	}
	wantCode := http.StatusOK
	switch {
	case c.timeout:
		wantCode = http.StatusServiceUnavailable
	case c.route == "order":
		wantCode = http.StatusCreated
	}
	if code != wantCode {
		return 0, fmt.Errorf("status %d, want %d: %.300q", code, wantCode, body)
	}
	switch c.route {
	case "stream":
		lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
		if len(lines) != c.lines {
			return 0, fmt.Errorf("%d lines, want %d: %.300q", len(lines), c.lines, body)
		}
		for i, l := range lines {
			m := streamLine.FindStringSubmatch(l)
			if m == nil || m[1] != strconv.Itoa(i+1) || m[2] != strconv.Itoa(c.lines) {
				return 0, fmt.Errorf("line %d is %q", i+1, l)
			}
		}
	case "finish":
		rest, ok := strings.CutPrefix(string(body), finishMessage)
		line, pad, _ := strings.Cut(rest, "\n")
		m := jobLine.FindStringSubmatch(line)
		if !ok || m == nil || len(pad) != c.pad {
			return 0, fmt.Errorf("body %.200q: want the message, a job line and %d bytes of filler", body, c.pad)
		}
		job, _ = strconv.ParseUint(m[1], 10, 64)
	case "close-early":
		if string(body) != finishMessage || !rep.resp.Close {
			return 0, fmt.Errorf("body %q, Connection: close %v", body, rep.resp.Close)
		}
	case "timeout", "timeout-reset":
		if c.timeout && rep.resp.Header.Get("Retry-After") == "" {
			return 0, fmt.Errorf("503 without Retry-After")
		}
	}
	return job, nil
}

// orderReply is the JSON answer of POST /demo/order.
type orderReply struct {
	Order refOrder `json:"order"`
}

func TestR1AbortStormReference(t *testing.T) {
	n := pick(2000, 100000)
	workers := 64
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(getenv("R1_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("seed %d (set R1_SEED to replay)", seed)
	calls := genReference(rand.New(rand.NewPCG(seed, 2)), n)
	rp := newReport(t, "R1-reference", "R1 abort storm, reference server (cmd/lifeline as a process)")
	rp.Load("%d requests (plus retries of orders) from %d concurrent raw HTTP/1.1 clients against `lifeline -time-limit 10s -drain 20s`, data in memory (/dev/shm); routes stream 30%%, order 6%%, finish 22%%, close-early 10%%, timeout 22%%, timeout-reset 10%%", n, workers)
	rp.Load("client behaviours: finish 45%%, stall 10%%, leave with FIN 15%%, leave with RST 15%% (0-30ms after sending), partial request then FIN 8%% or RST 7%%; an order's client that did not get its answer retries with the same Idempotency-Key until it does")
	rp.Check("every finishing client got the exact answer (lines, message and filler decoded, exact Content-Length, 503 with Retry-After past the limit)")
	rp.Check("every order committed exactly once (the database after exit): 4 items, state confirmed or unconfirmed consistent with its run's status, the client's final answer names that run, exactly one email sent")
	rp.Check("every durable job (River) completed after the clean drain; the job of every finishing client is there")
	rp.Check("status page counters against the driver: runs between (sent - RST leavers) and sent, time-limit hits = ended with status 2 = timeouts the clients saw, aborts closed <= FIN leavers + close-early answers (Connection: close), reset <= RST leavers, no runaway, no panic")
	rp.Check("SIGTERM: exit status 0, `stopped: N runs` = accepted runs; no data race, panic or runaway in the log")

	dir := dataDir(t)
	bin := binary(t, refServerPkg)
	p := startProc(t, "lifeline", bin, "-addr", "127.0.0.1:0", "-data", dir, "-time-limit", "10s", "-drain", "20s")
	var (
		mu       sync.Mutex
		nextTag  = uint64(n)
		byTag    = make(map[uint64]*refCall, n)
		answers  = make(map[string]orderReply) // ref → the final answer
		attempts = make(map[string]int)
	)
	for _, c := range calls {
		byTag[c.tag] = c
	}
	list := make([]*call, len(calls))
	for i, c := range calls {
		list[i] = c.call
	}
	d := &dialer{addr: p.addr}
	start := time.Now()
	results := runStorm(d, workers, list, func(c *call, rep reply) *call {
		mu.Lock()
		defer mu.Unlock()
		rc := byTag[c.tag]
		if rc.route != "order" {
			return nil
		}
		attempts[rc.ref]++
		if (c.act == actFinish || c.act == actStall) && rep.resp != nil && rep.resp.StatusCode == http.StatusCreated && rep.bodyErr == nil {
			var ans orderReply
			if json.Unmarshal(rep.body, &ans) == nil {
				answers[rc.ref] = ans
				return nil
			}
		}
		if attempts[rc.ref] > 5 {
			return nil
		}
		nextTag++
		retry := &refCall{call: &call{tag: nextTag, method: c.method, target: c.target, header: c.header, act: actFinish}, route: "order", ref: rc.ref}
		byTag[retry.tag] = retry
		return retry.call
	})
	elapsed := time.Since(start)
	rp.Figure("requests sent (with retries)", "%d in %v (%.0f/s)", len(results), elapsed.Round(time.Millisecond), float64(len(results))/elapsed.Seconds())

	var fail failures
	acts := counter{}
	var lat []time.Duration
	finisherJobs := map[uint64]bool{}
	var sent, partial, finLeave, rstLeave, timeouts, responded, closeEarly int
	for _, r := range results {
		c := byTag[r.call.tag]
		acts[c.route+"/"+c.act.String()]++
		switch {
		case c.act.partial():
			partial++
			continue
		case c.act == actLeaveFIN:
			finLeave++
		case c.act == actLeaveRST:
			rstLeave++
		}
		sent++
		if c.act.leaves() {
			continue
		}
		responded++
		if c.route == "close-early" {
			closeEarly++ // answered with Connection: close while the run goes on
		}
		lat = append(lat, r.rep.latency)
		if c.timeout {
			timeouts++
		}
		job, err := checkReferenceReply(c, r.rep)
		if err != nil {
			fail.add("%s %s (%s): %v", c.method, c.target, c.act, err)
		}
		if job != 0 {
			finisherJobs[job] = true
		}
	}

	snap := waitIdle(t, p.base, 60*time.Second)
	rp.Figure("status page after the storm", "%s", fmtStatus(snap))
	switch {
	case snap.AcceptedRuns > uint64(sent) || snap.AcceptedRuns < uint64(sent-rstLeave):
		fail.add("accepted runs %d, want between %d and %d", snap.AcceptedRuns, sent-rstLeave, sent)
	case snap.EndedRuns != snap.AcceptedRuns:
		fail.add("ended runs %d != accepted %d", snap.EndedRuns, snap.AcceptedRuns)
	case snap.TimeLimitHits != uint64(timeouts) || snap.EndedByStatus["2"] != uint64(timeouts):
		fail.add("time-limit hits %d, ended with status 2: %d; the driver saw %d timeouts", snap.TimeLimitHits, snap.EndedByStatus["2"], timeouts)
	case snap.AbortsByCause["closed"] > uint64(finLeave+closeEarly) || snap.AbortsByCause["reset"] > uint64(rstLeave):
		fail.add("aborts %v, the driver left with FIN %d times, with RST %d times, and read %d close-early answers", snap.AbortsByCause, finLeave, rstLeave, closeEarly)
	case snap.RunawayTotal != 0 || snap.HandlerPanics != 0:
		fail.add("runaway %d, panics %d", snap.RunawayTotal, snap.HandlerPanics)
	}
	code := p.stop(t, 60*time.Second)
	if code != 0 {
		fail.add("exit status %d after SIGTERM, want 0", code)
	}
	wantLine := fmt.Sprintf("stopped: %d runs, %d time limits hit, 0 runaway", snap.AcceptedRuns, snap.TimeLimitHits)
	if !strings.Contains(p.stdout.String(), wantLine) {
		fail.add("stdout %q, want a line %q", p.stdout.String(), wantLine)
	}
	p.checkLog(t)

	checkRefOrders(&fail, dir, calls, answers, rp)
	checkRefJobs(&fail, dir, finisherJobs, rp)
	rp.Figure("runs (status page)", "%d of %d requests sent in full (%d answered and read, %d partial requests, %d FIN and %d RST leavers)", snap.AcceptedRuns, sent, responded, partial, finLeave, rstLeave)
	rp.Figure("latency of finishing clients", "%s", latencies(lat))
	rp.Figure("calls by route/behaviour", "%s", acts)
	rp.Figure("violations", "%d", fail.n())
	if fail.n() > 0 {
		t.Errorf("%d violations (seed %d):%s", fail.n(), seed, fail.String())
	}
}

// checkRefOrders checks the orders table: each order committed exactly once, and
// what its client was finally told.
func checkRefOrders(fail *failures, dir string, calls []*refCall, answers map[string]orderReply, rp *report) {
	orders, err := refOrders(dir)
	if err != nil {
		fail.add("orders: %v", err)
		return
	}
	byRef := make(map[string]refOrder, len(orders))
	for _, o := range orders {
		byRef[o.Ref] = o
	}
	states := counter{}
	for _, c := range calls {
		if c.route != "order" {
			continue
		}
		o, ok := byRef[c.ref]
		ans, answered := answers[c.ref]
		switch {
		case !answered:
			fail.add("order %s: no 201 answer after retries", c.ref)
			continue
		case !ok:
			fail.add("order %s: not in the database", c.ref)
			continue
		}
		states[o.State+"/"+o.Status]++
		want := map[string]string{"confirmed": "normal", "unconfirmed": "aborted"}[o.State]
		if (o.State == "unconfirmed" && strings.HasPrefix(o.Reason, "answer not")) || o.Reason == "answer delivered by an idempotent replay" {
			want = o.Status // decided by the delivery of the answer or of its replay, after Finish: any status
		}
		if len(o.Items) != 4 || want == "" || o.Status != want {
			fail.add("order %s: state %s, status %s, %d items (want confirmed/normal or unconfirmed/aborted, 4 items)", c.ref, o.State, o.Status, len(o.Items))
		}
		if ans.Order.Ref != o.Ref || ans.Order.Run != o.Run || len(ans.Order.Items) != 4 {
			fail.add("order %s: the client was told run %d, %d items; the database has run %d", c.ref, ans.Order.Run, len(ans.Order.Items), o.Run)
		}
		if (c.act == actFinish || c.act == actStall) && o.State != "confirmed" {
			fail.add("order %s: the first client read its answer, yet the order is %s (%s)", c.ref, o.State, o.Reason)
		}
		if o.Emails != 1 {
			fail.add("order %s: %d emails sent after a clean drain, want exactly 1", c.ref, o.Emails)
		}
	}
	for ref := range byRef {
		if !strings.HasPrefix(ref, "R1-") {
			fail.add("order %s: unknown ref in the database", ref)
		}
	}
	rp.Figure("orders by state/status", "%s", states)
}

// checkRefJobs checks River's jobs after the drain: every job completed
// (their work is at most 20ms, the drain 20s), each named in an answer, and
// each job a finishing client was told of is there. The orders' email jobs
// are checked with the orders.
func checkRefJobs(fail *failures, dir string, finisherJobs map[uint64]bool, rp *report) {
	jobs, err := refJobs(dir)
	if err != nil {
		fail.add("jobs: %v", err)
		return
	}
	states := counter{}
	for _, j := range jobs {
		states[j.Kind+"/"+j.State]++
		if j.State != "completed" {
			fail.add("job %d (%s): state %q after a clean drain", j.ID, j.Kind, j.State)
		}
		delete(finisherJobs, uint64(j.ID))
	}
	for id := range finisherJobs {
		fail.add("job %d: named in an answer, not in the database", id)
	}
	rp.Figure("jobs by kind/state", "%s", states)
}
