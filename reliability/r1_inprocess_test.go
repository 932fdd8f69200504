package reliability

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
)

// detectBudget is how soon a client's departure must show in its run's
// status for the tests to call it a failure: a client that left at least
// this long before its run would have ended on its own must find the run
// Aborted. It is wide because the machine the figures come from is shared
// and overloaded; docs/RELIABILITY.md reports the latencies seen.
const detectBudget = time.Second

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
	// nominal is, for a leaving client, how long after its start the run
	// would reach its end (or Finish) if the client stayed.
	nominal time.Duration
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
				c.target, c.nominal = "/stream?lines=300&every=5ms", 1500*time.Millisecond
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
				work = 1200 * time.Millisecond
				c.nominal = work
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
				before = 1500 * time.Millisecond
				c.nominal = before
			}
			c.target = fmt.Sprintf("/finish?before=%v&work=%v&pad=%d", before, durBetween(rng, 0, 20*time.Millisecond), pad)
			if ae := acceptEncodings[rng.IntN(len(acceptEncodings))]; ae != "" {
				c.header.Set("Accept-Encoding", ae)
			}
			c.want = finishBody(pad)
		case "ignore":
			if leaves {
				c.target, c.nominal = "/ignore?lines=10&work=1500ms", 1500*time.Millisecond
			} else {
				c.target = fmt.Sprintf("/ignore?lines=%d&work=%v", 1+rng.IntN(5), durBetween(rng, 0, 10*time.Millisecond))
			}
		case "timeout":
			// Wide margins: on a loaded machine a timer may fire hundreds
			// of milliseconds late, and a run may wait as long for a core.
			// A run past its limit stops at the limit; busy only says how
			// long it would go on if the limit failed.
			mode := "sleep"
			limit := durBetween(rng, time.Second, 2*time.Second)
			busy := durBetween(rng, 0, time.Millisecond)
			if rng.IntN(2) == 0 {
				c.timeout = true
				limit = durBetween(rng, 50*time.Millisecond, 80*time.Millisecond)
				if rng.IntN(10) == 0 { // spinning costs a core until the limit
					mode, limit = "spin", durBetween(rng, 5*time.Millisecond, 10*time.Millisecond)
				}
				busy = limit + 2*time.Second
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

// expectLeaver settles what a leaving client's run must show, from when
// the client left: Aborted if it left detectBudget or more before the run
// would have reached its end, Normal if it left after the run's shutdown
// function ran. In between either is right; ambiguous says so.
func expectLeaver(sc *stormCall, e ledgerRun, rep reply) (status lifeline.Status, cause string, ambiguous bool) {
	switch {
	case rep.leftAt.After(e.endedAt):
		return lifeline.Normal, "", false
	case e.beganAt.Add(sc.nominal).Sub(rep.leftAt) >= detectBudget:
		return sc.status, sc.cause, false
	case e.status == lifeline.Normal:
		return lifeline.Normal, "", true
	}
	return sc.status, sc.cause, true
}

func TestR1AbortStormInProcess(t *testing.T) {
	n := pick(3000, 100000)
	workers := 64
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(getenv("R1_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("seed %d (set R1_SEED to replay)", seed)
	calls := genInProcess(rand.New(rand.NewPCG(seed, 1)), n)
	rp := newReport(t, "R1-inprocess", "R1 abort storm, instrumented in-process server")
	rp.Load("%d requests (plus the retries of orders whose client left) from %d concurrent raw HTTP/1.1 clients; routes stream 30%%, order 15%% (idempotency, ignore_user_abort), finish 20%% (compress, Finish), ignore 15%% (ignore_user_abort), timeout 20%%", n, workers)
	rp.Load("client behaviours: finish 45%%, stall 10%%, leave with FIN 15%%, leave with RST 15%%, partial request then FIN 8%% or RST 7%%; leaving clients leave 0-20ms after their run started; an order's client that left retries with the same Idempotency-Key after the storm")
	rp.Check("every run's shutdown function ran exactly once, with the status its client implies (aborted if it left %v or more before the run would have ended, normal if it left after, timeout past the limit) and the cause (closed for FIN, reset for RST)", detectBudget)
	rp.Check("every order committed exactly once; the client's retry got that order (replayed, or run by the retry when the first run failed)")
	rp.Check("no run for a partial request; every finishing client got the exact body (decoded, Content-Length exact)")
	rp.Check("Pool.Stats (accepted, by status, aborts by cause, time-limit hits) equal the driver's own counts; Pool.Recent has a record of every run with 1 shutdown function")
	rp.Check("after the drain: no goroutine left")

	baseline := goroutines()
	s := startStorm(t, stormOptions{timeLimit: 10 * time.Second, recent: 2 * n})
	byTag := make(map[uint64]*stormCall, n)
	list := make([]*call, len(calls))
	for i, c := range calls {
		byTag[c.tag] = c
		list[i] = c.call
	}
	var (
		retryMu sync.Mutex
		nextTag = uint64(n)
		retries = make(map[uint64]*stormCall) // retry tag → its call
	)
	d := &dialer{addr: s.addr, started: s.ledger.waitStarted}
	start := time.Now()
	// The clients of orders who left retry once the storm is over, so that
	// no worker waits for the order it left.
	var later []*call
	origins := make(map[uint64]*call)
	results := runStorm(d, workers, list, func(c *call, rep reply) *call {
		sc := byTag[c.tag]
		if sc == nil || sc.route != "order" || !c.act.leaves() {
			return nil
		}
		retryMu.Lock()
		defer retryMu.Unlock()
		nextTag++
		retry := &stormCall{call: &call{tag: nextTag, method: c.method, target: c.target, header: c.header, body: c.body, act: actFinish},
			route: "order", code: http.StatusCreated, ref: sc.ref}
		retries[retry.tag] = retry
		later = append(later, retry.call)
		origins[retry.tag] = c
		return nil
	})
	for _, r := range runStorm(d, workers, later, nil) {
		r.origin = origins[r.call.tag]
		results = append(results, r)
	}
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
	var lat, detect []time.Duration
	var want struct {
		accepted, ambiguous, lateOrders int
		byStatus                        [4]uint64
		closed, reset, tl               uint64
	}
	recs := s.pool.Recent()
	recByTag := recordsByTag(&fail, recs, false)
	misclassified := counter{}
	for _, r := range results {
		sc := byTag[r.call.tag]
		acts[sc.route+"/"+r.call.act.String()]++
		if r.call.act == actFinish || r.call.act == actStall {
			lat = append(lat, r.rep.latency)
		}
		checkInProcessReply(&fail, sc, r, s.committers)
		e, began := s.ledger.get(sc.tag)
		if sc.act.partial() {
			if began {
				fail.add("tag %d (%s, %s): a run began for a partial request", sc.tag, sc.route, sc.act)
			}
			continue
		}
		want.accepted++
		rec, hasRec := recByTag[sc.tag]
		if !began || !hasRec {
			fail.add("tag %d (%s, %s): no run began (ledger %v, record %v)", sc.tag, sc.route, sc.act, began, hasRec)
			continue
		}
		status, cause := sc.status, sc.cause
		either := false // the run may end Normal or with sc.status
		if sc.act.leaves() {
			status, cause, either = expectLeaver(sc, e, r.rep)
			either = either || status == lifeline.Normal
			if either {
				want.ambiguous++
			}
			if status != lifeline.Normal && e.status == status && (sc.route == "stream" || sc.route == "finish") {
				detect = append(detect, e.endedAt.Sub(r.rep.leftAt))
			}
			if !r.rep.started {
				fail.add("tag %d (%s): the run did not start within 30s", sc.tag, sc.route)
			}
		}
		// The record is taken after the shutdown functions: a departure
		// seen in between shows there and in Pool.Stats, not in the ledger.
		recStatus, recCause := status, cause
		if either && (rec.Status == sc.status && rec.Cause.String() == sc.cause || rec.Status == lifeline.Normal && rec.Cause == lifeline.CauseNone) {
			recStatus, recCause = rec.Status, rec.Cause.String()
		}
		if (recCause == "closed" || recCause == "reset") && rec.Status == recStatus && rec.Cause.String() != recCause &&
			(rec.Cause == lifeline.CauseClosed || rec.Cause == lifeline.CauseReset) {
			// The cause is advisory: a write after the peer's RST fails
			// with EPIPE, which the pool calls closed. Counted, not failed.
			misclassified[sc.act.String()+" recorded as "+rec.Cause.String()]++
			recCause = rec.Cause.String()
		}
		if rec.Status != recStatus || rec.Cause.String() != recCause {
			fail.add("tag %d (%s, %s): record status %v cause %q, want %v %q", sc.tag, sc.route, sc.act, rec.Status, rec.Cause, recStatus, recCause)
		}
		want.byStatus[recStatus]++
		switch recCause {
		case "closed":
			want.closed++
		case "reset":
			want.reset++
		case "time-limit":
			want.tl++
		}
		switch {
		case e.route != sc.route:
			fail.add("tag %d: route %s, want %s", sc.tag, e.route, sc.route)
		case e.shutdowns != 1:
			fail.add("tag %d (%s, %s): shutdown function ran %d times, want 1", sc.tag, sc.route, sc.act, e.shutdowns)
		case e.status != status:
			timing := fmt.Sprintf("run lasted %v", e.endedAt.Sub(e.beganAt).Round(time.Millisecond))
			if !r.rep.leftAt.IsZero() {
				timing += fmt.Sprintf(", client left %v after the run began", r.rep.leftAt.Sub(e.beganAt).Round(time.Millisecond))
			}
			fail.add("tag %d (%s, %s, %s): final status %v, want %v (%s)", sc.tag, sc.route, sc.act, sc.target, e.status, status, timing)
		}
		aborted := e.status&lifeline.Aborted != 0
		switch {
		case sc.route == "ignore" && !e.done:
			fail.add("tag %d (ignore, %s): the run that ignores user aborts did not complete its work", sc.tag, sc.act)
		case sc.route == "finish" && aborted && e.jobDone:
			fail.add("tag %d (finish, %s): worked after Finish although its client left before", sc.tag, sc.act)
		case sc.route == "finish" && !aborted && !e.jobDone:
			fail.add("tag %d (finish, %s): the work after Finish did not complete (%s)", sc.tag, sc.act, e.note)
		case sc.route == "order" && sc.act.leaves() && !e.done:
			want.lateOrders++ // aborted before IgnoreUserAbort(true): the retry placed it
		}
	}
	checkOrders(&fail, s, calls)
	st := s.pool.Stats()
	got := fmt.Sprintf("accepted %d, by status %v, closed %d, reset %d, time-limit hits %d, runaway %d, panics %d",
		st.Accepted, st.ByStatus, st.Aborts["closed"], st.Aborts["reset"], st.TimeLimitHits, st.Runaway, st.Panics)
	exp := fmt.Sprintf("accepted %d, by status %v, closed %d, reset %d, time-limit hits %d, runaway 0, panics 0",
		want.accepted, want.byStatus, want.closed, want.reset, want.tl)
	if got != exp {
		fail.add("Pool.Stats: %s\n  driver:     %s", got, exp)
	}
	if s.ledger.count() != want.accepted || len(recs) != want.accepted {
		fail.add("ledger has %d runs, Pool.Recent %d records, driver expects %d", s.ledger.count(), len(recs), want.accepted)
	}
	for _, p := range s.ledger.problemList() {
		fail.add("ledger: %s", p)
	}
	rp.Figure("runs", "%d (ledger %d, Pool.Stats.Accepted %d, records %d)", want.accepted, s.ledger.count(), st.Accepted, len(recs))
	rp.Figure("final status normal / aborted / timeout", "%d / %d / %d", st.ByStatus[0], st.ByStatus[1], st.ByStatus[2])
	rp.Figure("aborts by cause (closed / reset)", "%d / %d", st.Aborts["closed"], st.Aborts["reset"])
	rp.Figure("leaving clients that left too close to their run's end to call (either status accepted)", "%d", want.ambiguous)
	rp.Figure("orders whose client left before IgnoreUserAbort(true): first run failed, the retry placed the order", "%d", want.lateOrders)
	rp.Figure("abort causes recorded otherwise than the client left", "%v", misclassified)
	rp.Figure("latency of finishing clients", "%s", latencies(lat))
	rp.Figure("client left → its terminated run's shutdown function saw Aborted (stream, finish)", "%s", latencies(detect))
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
