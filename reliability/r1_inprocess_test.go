package reliability

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
)

// stormCall is a call of the in-process storm with what its client's
// behaviour implies for its run.
type stormCall struct {
	*call
	route   string
	status  lifeline.Status // expected final status
	cause   string          // expected Record.Cause
	code    int             // expected HTTP status for clients that read the response
	want    string          // expected decoded body ("" = not checked)
	ref     string          // order reference
	timeout bool            // the run exceeds its limit
}

// genInProcess returns n calls of the in-process storm.
func genInProcess(rng *rand.Rand, n int) []*stormCall {
	out := make([]*stormCall, 0, n)
	for i := range n {
		c := &stormCall{call: &call{tag: uint64(i + 1), method: http.MethodGet, header: http.Header{}}, code: http.StatusOK}
		route := []string{"stream", "order", "finish", "ignore", "timeout"}[weighted(rng, 30, 15, 20, 15, 20)]
		c.route = route
		act := action(weighted(rng, 45, 10, 15, 15, 8, 7))
		if route == "timeout" && act.leaves() {
			act = actFinish
		}
		c.act = act
		c.stall = durBetween(rng, 0, 30*time.Millisecond)
		c.leaveAfter = durBetween(rng, 0, 20*time.Millisecond)
		leaves := act.leaves()
		switch route {
		case "stream":
			if leaves {
				c.target = "/stream?lines=200&every=5ms"
			} else {
				lines := 1 + rng.IntN(8)
				c.target = fmt.Sprintf("/stream?lines=%d&every=%v", lines, durBetween(rng, 0, 2*time.Millisecond))
				c.want = streamBody(lines)
			}
		case "order":
			c.method = http.MethodPost
			c.ref = "ref-" + strconv.Itoa(i+1)
			work := durBetween(rng, 0, 20*time.Millisecond)
			if leaves {
				work = durBetween(rng, 100*time.Millisecond, 150*time.Millisecond)
			}
			c.target = fmt.Sprintf("/order?ref=%s&work=%v", c.ref, work)
			c.header.Set("Idempotency-Key", "key-"+c.ref)
			c.body = []byte("item=1&item=2")
			c.header.Set("Content-Type", "application/x-www-form-urlencoded")
			c.code = http.StatusCreated
		case "finish":
			pad := rng.IntN(3000)
			before := durBetween(rng, 0, 2*time.Millisecond)
			if leaves {
				before = 150 * time.Millisecond
			}
			c.target = fmt.Sprintf("/finish?before=%v&work=%v&pad=%d", before, durBetween(rng, 0, 20*time.Millisecond), pad)
			if ae := acceptEncodings[rng.IntN(len(acceptEncodings))]; ae != "" {
				c.header.Set("Accept-Encoding", ae)
			}
			c.want = finishBody(pad)
		case "ignore":
			if leaves {
				c.target = "/ignore?lines=10&work=150ms"
			} else {
				c.target = fmt.Sprintf("/ignore?lines=%d&work=%v", 1+rng.IntN(5), durBetween(rng, 0, 10*time.Millisecond))
			}
		case "timeout":
			// Wide margins: on a loaded machine a timer may fire tens of
			// milliseconds late, and a run may wait as long for a core.
			mode := "sleep"
			limit := durBetween(rng, 50*time.Millisecond, 80*time.Millisecond)
			busy := durBetween(rng, 0, time.Millisecond)
			if rng.IntN(2) == 0 {
				busy, c.timeout = limit+100*time.Millisecond, true
				if rng.IntN(10) == 0 { // spinning costs a core until the limit
					mode, limit = "spin", durBetween(rng, 5*time.Millisecond, 10*time.Millisecond)
				}
			}
			c.target = fmt.Sprintf("/timeout?limit=%v&busy=%v&mode=%s", limit, busy, mode)
			if c.timeout {
				c.code = http.StatusServiceUnavailable
			} else {
				c.want = fmt.Sprintf("worked %v\n", busy)
			}
		}
		switch {
		case leaves:
			c.status = lifeline.Aborted
			c.cause = "closed"
			if act == actLeaveRST {
				c.cause = "reset"
			}
		case c.timeout:
			c.status, c.cause = lifeline.Timeout, "time-limit"
		}
		out = append(out, c)
	}
	return out
}

func TestR1AbortStormInProcess(t *testing.T) {
	n := pick(3000, 100000)
	workers := pick(64, 128)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d (set R1_SEED to replay)", seed)
	if s, err := strconv.ParseUint(getenv("R1_SEED"), 10, 64); err == nil {
		seed = s
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	calls := genInProcess(rng, n)
	rp := newReport(t, "R1-inprocess", "R1 abort storm, instrumented in-process server")
	rp.Load("%d requests (plus the retries of orders whose client left) from %d concurrent raw HTTP/1.1 clients; routes stream 30%%, order 15%% (idempotency, ignore_user_abort), finish 20%% (compress, Finish), ignore 15%% (ignore_user_abort), timeout 20%%", n, workers)
	rp.Load("client behaviours: finish 45%%, stall 10%%, leave with FIN 15%%, leave with RST 15%%, partial request then FIN 8%% or RST 7%%; leaving clients leave 0-20ms after their run started")
	rp.Check("every run's shutdown function ran exactly once, with the status its client implies (normal, aborted, timeout) and the cause (closed for FIN, reset for RST)")
	rp.Check("every order committed exactly once, by the first attempt; the client's retry got the replay of that order")
	rp.Check("no run for a partial request; every finishing client got the exact body (decoded, Content-Length exact)")
	rp.Check("Pool.Stats (accepted, by status, aborts by cause, time-limit hits) equal the driver's own counts")
	rp.Check("after the drain: no goroutine left")

	baseline := goroutines()
	s := startStorm(t, stormOptions{timeLimit: 10 * time.Second, recent: 2 * n})
	byTag := make(map[uint64]*stormCall, n)
	list := make([]*call, len(calls))
	for i, c := range calls {
		byTag[c.tag] = c
		list[i] = c.call
	}
	var nextTag = uint64(n)
	var tagMu = make(chan struct{}, 1)
	retries := make(map[uint64]*stormCall) // retry tag → its call
	d := &dialer{addr: s.addr, started: s.ledger.waitStarted}
	start := time.Now()
	results := runStorm(d, workers, list, func(c *call, rep reply) *call {
		sc := byTag[c.tag]
		if sc == nil || sc.route != "order" || !c.act.leaves() {
			return nil
		}
		tagMu <- struct{}{}
		nextTag++
		retry := &stormCall{call: &call{tag: nextTag, method: c.method, target: c.target, header: c.header, body: c.body, act: actFinish},
			route: "order", code: http.StatusCreated, ref: sc.ref}
		retries[retry.tag] = retry
		<-tagMu
		return retry.call
	})
	elapsed := time.Since(start)
	if err := s.stop(); err != nil {
		t.Errorf("drain: %v", err)
	}
	for tag, rc := range retries {
		byTag[tag] = rc
	}
	rp.Figure("requests sent (with retries)", "%d in %v (%.0f/s)", len(results), elapsed.Round(time.Millisecond), float64(len(results))/elapsed.Seconds())

	var fail failures
	acts := counter{}
	var lat []time.Duration
	want := struct {
		accepted          int
		byStatus          [4]int
		closed, reset, tl int
	}{}
	for _, r := range results {
		sc := byTag[r.call.tag]
		acts[sc.route+"/"+r.call.act.String()]++
		if r.call.act == actFinish || r.call.act == actStall {
			lat = append(lat, r.rep.latency)
		}
		checkInProcessReply(&fail, sc, r)
		e, began := s.ledger.get(sc.tag)
		if sc.act.partial() {
			if began {
				fail.add("tag %d (%s, %s): a run began for a partial request", sc.tag, sc.route, sc.act)
			}
			continue
		}
		want.accepted++
		want.byStatus[sc.status]++
		switch sc.cause {
		case "closed":
			want.closed++
		case "reset":
			want.reset++
		case "time-limit":
			want.tl++
		}
		switch {
		case !began:
			fail.add("tag %d (%s, %s): no run began", sc.tag, sc.route, sc.act)
			continue
		case e.route != sc.route:
			fail.add("tag %d: route %s, want %s", sc.tag, e.route, sc.route)
		case e.shutdowns != 1:
			fail.add("tag %d (%s, %s): shutdown function ran %d times, want 1", sc.tag, sc.route, sc.act, e.shutdowns)
		case e.status != sc.status:
			fail.add("tag %d (%s, %s, %s): final status %v, want %v", sc.tag, sc.route, sc.act, sc.target, e.status, sc.status)
		}
		if sc.act.leaves() && !r.rep.started {
			fail.add("tag %d (%s): the run did not start within 30s", sc.tag, sc.route)
		}
		switch {
		case sc.route == "ignore" && !e.done:
			fail.add("tag %d (ignore, %s): the run that ignores user aborts did not complete its work", sc.tag, sc.act)
		case sc.route == "finish" && sc.act.leaves() && e.jobDone:
			fail.add("tag %d (finish, %s): worked after Finish although its client left before", sc.tag, sc.act)
		case sc.route == "finish" && !sc.act.leaves() && !e.jobDone:
			fail.add("tag %d (finish, %s): the work after Finish did not complete (%s)", sc.tag, sc.act, e.note)
		}
	}
	checkOrders(&fail, s, calls)
	checkRecords(&fail, s.pool.Recent(), byTag)
	st := s.pool.Stats()
	got := fmt.Sprintf("accepted %d, by status %v, closed %d, reset %d, time-limit hits %d, runaway %d, panics %d",
		st.Accepted, st.ByStatus, st.Aborts["closed"], st.Aborts["reset"], st.TimeLimitHits, st.Runaway, st.Panics)
	exp := fmt.Sprintf("accepted %d, by status %v, closed %d, reset %d, time-limit hits %d, runaway 0, panics 0",
		want.accepted, [4]uint64{uint64(want.byStatus[0]), uint64(want.byStatus[1]), uint64(want.byStatus[2]), uint64(want.byStatus[3])},
		want.closed, want.reset, want.tl)
	if got != exp {
		fail.add("Pool.Stats: %s\n  driver:     %s", got, exp)
	}
	if s.ledger.count() != want.accepted {
		fail.add("ledger has %d runs, driver expects %d", s.ledger.count(), want.accepted)
	}
	for _, p := range s.ledger.problemList() {
		fail.add("ledger: %s", p)
	}
	rp.Figure("runs", "%d (ledger %d, Pool.Stats.Accepted %d)", want.accepted, s.ledger.count(), st.Accepted)
	rp.Figure("final status normal / aborted / timeout", "%d / %d / %d", st.ByStatus[0], st.ByStatus[1], st.ByStatus[2])
	rp.Figure("aborts by cause (closed / reset)", "%d / %d", st.Aborts["closed"], st.Aborts["reset"])
	rp.Figure("latency of finishing clients", "%s", latencies(lat))
	rp.Figure("calls by route/behaviour", "%s", acts)
	if left, stacks := settleGoroutines(baseline, 10*time.Second); left > 0 {
		fail.add("%d goroutines left after the drain (baseline %d):\n%s", left, baseline, stacks)
		rp.Figure("goroutines left after the drain", "%d", left)
	} else {
		rp.Figure("goroutines left after the drain", "0 (baseline %d)", baseline)
	}
	if logs := s.logs.String(); containsAny(logs, "panic", "runaway") {
		fail.add("server log:\n%s", tail(logs, 4000))
	}
	rp.Figure("violations", "%d", fail.n())
	if fail.n() > 0 {
		t.Errorf("%d violations (seed %d):%s", fail.n(), seed, fail.String())
	}
}

// checkInProcessReply checks what a client that read its response got.
func checkInProcessReply(fail *failures, sc *stormCall, r result) {
	if sc.act != actFinish && sc.act != actStall {
		return
	}
	rep := r.rep
	if rep.err != nil || rep.resp == nil {
		fail.add("tag %d (%s %s): %v", sc.tag, sc.route, sc.target, rep.err)
		return
	}
	if rep.resp.StatusCode != sc.code {
		fail.add("tag %d (%s %s): status %d, want %d; body %.200q", sc.tag, sc.route, sc.target, rep.resp.StatusCode, sc.code, rep.body)
		return
	}
	if rep.bodyErr != nil {
		fail.add("tag %d (%s): body: %v", sc.tag, sc.route, rep.bodyErr)
		return
	}
	if err := checkLength(rep.resp, rep.body); err != nil {
		fail.add("tag %d (%s): %v", sc.tag, sc.route, err)
	}
	body, err := decodeBody(rep.resp, rep.body)
	if err != nil {
		fail.add("tag %d (%s): decode: %v", sc.tag, sc.route, err)
		return
	}
	if sc.want != "" && string(body) != sc.want {
		fail.add("tag %d (%s %s): body %.200q, want %.200q", sc.tag, sc.route, sc.target, body, sc.want)
	}
	if sc.route == "order" {
		var ans orderAnswer
		if err := json.Unmarshal(body, &ans); err != nil {
			fail.add("tag %d (order): %v in %q", sc.tag, err, body)
			return
		}
		wantTag, replay := sc.tag, r.origin != nil
		if replay {
			wantTag = r.origin.tag
		}
		if ans.Ref != sc.ref || ans.Tag != wantTag {
			fail.add("tag %d (order): answer %+v, want ref %s by tag %d", sc.tag, ans, sc.ref, wantTag)
		}
		if got := rep.resp.Header.Get("Idempotent-Replayed") == "true"; got != replay {
			fail.add("tag %d (order): Idempotent-Replayed %v, want %v", sc.tag, got, replay)
		}
	}
	if sc.timeout && rep.resp.Header.Get("Retry-After") == "" {
		fail.add("tag %d (timeout): 503 without Retry-After", sc.tag)
	}
}

// checkOrders checks that each order was committed exactly once, by the
// run of its first attempt (its retry is replayed), or never when the
// first attempt was a partial request.
func checkOrders(fail *failures, s *stormServer, calls []*stormCall) {
	s.ordersMu.Lock()
	defer s.ordersMu.Unlock()
	for _, c := range calls {
		if c.route != "order" {
			continue
		}
		tags := s.orders[c.ref]
		switch {
		case c.act.partial() && len(tags) != 0:
			fail.add("order %s: committed by %v after a partial request", c.ref, tags)
		case !c.act.partial() && (len(tags) != 1 || tags[0] != c.tag):
			fail.add("order %s: committed by runs %v, want exactly once by tag %d", c.ref, tags, c.tag)
		}
	}
}

// checkRecords checks the pool's record of every run.
func checkRecords(fail *failures, recs []lifeline.Record, byTag map[uint64]*stormCall) {
	seen := 0
	for _, rec := range recs {
		tag, err := strconv.ParseUint(rec.Notes["tag"], 10, 64)
		sc := byTag[tag]
		if err != nil || sc == nil {
			fail.add("record of run %d: no storm tag (%v)", rec.ID, rec.Notes)
			continue
		}
		seen++
		if rec.ShutdownFuncs != 1 {
			fail.add("tag %d: record says %d shutdown functions ran, want 1", tag, rec.ShutdownFuncs)
		}
		if rec.Status != sc.status || rec.Cause.String() != sc.cause {
			fail.add("tag %d (%s, %s): record status %v cause %q, want %v %q", tag, sc.route, sc.act, rec.Status, rec.Cause, sc.status, sc.cause)
		}
		if rec.Runaway {
			fail.add("tag %d: runaway", tag)
		}
	}
	_ = seen
}
