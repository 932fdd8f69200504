package reliability

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
)

// TestR3LimitsInProcess runs concurrent runs of every output shape, half
// past their time limit, on the instrumented server: every run past its
// limit is flagged Timeout; its client gets the timeout response (nothing
// was sent) or a body it can tell is truncated (the headers had gone out),
// never a falsely complete one; the others complete exactly.
func TestR3LimitsInProcess(t *testing.T) {
	n := pick(1000, 1000)
	grace := 300 * time.Millisecond
	rp := newReport(t, "R3-inprocess", "R3 limits under load, instrumented in-process server")
	rp.Load("%d runs at once, each on its own connection, spread over %d output shapes (sleep, spin, buffered, stream, big, gzip stream, runaway, runaway after output, Finish); half past their limit (700-900ms), half within it (limit 4s, 0.7-1.2s of work), so that all overlap; grace period %v", n, len(r3Shapes), grace)
	rp.Check("every run past its limit has status Timeout (ledger, records), the others Normal; every run deaf to its limit is counted runaway; Pool.Stats time-limit hits and runaways equal the driver's counts")
	rp.Check("client of a run past its limit: 503 with Retry-After when nothing was sent, a truncated body (unexpected EOF) when headers had gone out, the complete answer for Finish; never a complete 200 otherwise")
	rp.Check("clients within their limit: the exact body (gzip decoded)")
	baseline := goroutines()
	s := startStorm(t, stormOptions{timeLimit: 30 * time.Second, grace: grace, recent: 2 * n, extraRoutes: r3Routes})
	type r3Call struct {
		call   *call
		shape  int
		over   bool
		limit  time.Duration
		lines  int
		result reply
	}
	calls := make([]*r3Call, n)
	for i := range calls {
		c := &r3Call{shape: i % len(r3Shapes), over: i%2 == 0, lines: 5}
		sh := r3Shapes[c.shape]
		// Every run lives for about a second, so that they all overlap.
		limit, busy := 4*time.Second, 700*time.Millisecond+time.Duration(i%50)*10*time.Millisecond
		if c.over {
			limit = 700*time.Millisecond + time.Duration(i%200)*time.Millisecond
			busy = limit + grace + 2*time.Second
			if sh.name == "spin" {
				busy = limit + 2*time.Second
			}
		}
		c.limit = limit
		c.call = &call{tag: uint64(i + 1), method: http.MethodGet, act: actFinish, header: http.Header{},
			target: fmt.Sprintf("/r3/%s?limit=%v&busy=%v&lines=%d", sh.name, limit, busy, c.lines)}
		if sh.name == "gzip" {
			c.call.header.Set("Accept-Encoding", "gzip")
		}
		calls[i] = c
	}
	list := make([]*call, len(calls))
	for i, c := range calls {
		list[i] = c.call
	}
	start := time.Now()
	results, err := allAtOnce(s.addr, list)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range calls {
		c.result = results[i]
	}
	elapsed := time.Since(start)
	if err := s.stop(); err != nil {
		t.Errorf("drain: %v", err)
	}
	var fail failures
	outcomes := counter{}
	var overN, runaways, runawayRecs int
	starved := counter{}
	recs := recordsByTag(&fail, s.pool.Recent(), true)
	for _, c := range calls {
		sh := r3Shapes[c.shape]
		e, began := s.ledger.get(c.call.tag)
		rec := recs[c.call.tag]
		if !began || e.shutdowns != 1 {
			fail.add("%s: began %v, shutdown functions %d", c.call.target, began, e.shutdowns)
			continue
		}
		wantStatus := lifeline.Normal
		if c.over {
			wantStatus = lifeline.Timeout
			overN++
			if sh.runaway {
				runaways++
			}
		}
		if e.status != wantStatus || rec.Status != wantStatus {
			fail.add("%s: status %v (record %v), want %v (run lasted %v)", c.call.target, e.status, rec.Status, wantStatus, e.endedAt.Sub(e.beganAt).Round(time.Millisecond))
		}
		switch {
		case c.over && sh.runaway && !rec.Runaway, !c.over && rec.Runaway:
			fail.add("%s: runaway %v", c.call.target, rec.Runaway)
		case rec.Runaway && !sh.runaway:
			// A run that would stop at its next Check or write, but did not
			// get a core within the grace period (55 runs spin on 2 cores).
			starved[sh.name]++
		}
		if rec.Runaway {
			runawayRecs++
		}
		got, err := r3Outcome(c.result, func(body []byte) error {
			if want := r3Body(sh.name, c.lines); string(body) != want {
				return fmt.Errorf("body %.120q, want %.120q", body, want)
			}
			return nil
		})
		outcomes[fmt.Sprintf("%s %s: %s", sh.name, map[bool]string{true: "over", false: "within"}[c.over], got)]++
		if err != nil {
			fail.add("%s: %v", c.call.target, err)
			continue
		}
		want := "complete"
		switch {
		case !c.over || sh.finish:
		case sh.sentFirst:
			want = "truncated"
		default:
			want = "timeout response"
		}
		if got != want {
			fail.add("%s: the client got a %s response, want %s", c.call.target, got, want)
		}
	}
	st := s.pool.Stats()
	if st.TimeLimitHits != uint64(overN) || st.Runaway != uint64(runawayRecs) || runawayRecs < runaways || st.ByStatus[lifeline.Timeout] != uint64(overN) {
		fail.add("Pool.Stats: time-limit hits %d, runaway %d, ended Timeout %d; the driver expects %d, %d (%d deaf to the limit), %d",
			st.TimeLimitHits, st.Runaway, st.ByStatus[lifeline.Timeout], overN, runawayRecs, runaways, overN)
	}
	rp.Figure("runs", "%d in %v, at most %d at once", n, elapsed.Round(time.Millisecond), st.MaxActive)
	rp.Figure("time-limit hits / runaway (Pool.Stats)", "%d / %d", st.TimeLimitHits, st.Runaway)
	rp.Figure("runs that would have stopped but got no core within the grace period (counted runaway)", "%v", starved)
	rp.Figure("what the clients got, by shape", "%s", outcomes)
	if left, stacks := settleGoroutines(baseline, 10*time.Second); left > 0 {
		fail.add("%d goroutines left after the drain:\n%s", left, stacks)
	}
	rp.Figure("violations", "%d", fail.n())
	if fail.n() > 0 {
		t.Errorf("%d violations:%s", fail.n(), fail.String())
	}
}

// r3Outcome classifies what a client got: "complete" (status 200 and the
// exact body, read to a clean end), "truncated" (the body ended with an
// error), or "timeout response" (503 with Retry-After and the default
// message). Anything else is an error, a falsely complete body above all.
func r3Outcome(rep reply, complete func(body []byte) error) (string, error) {
	if rep.err != nil || rep.resp == nil {
		return "", fmt.Errorf("no response: %v", rep.err)
	}
	resp := rep.resp
	switch {
	case truncated(rep.bodyErr):
		return "truncated", nil
	case rep.bodyErr != nil:
		return "", fmt.Errorf("body: %v", rep.bodyErr)
	case resp.StatusCode == http.StatusServiceUnavailable:
		if resp.Header.Get("Retry-After") == "" || string(rep.body) != "lifeline: time limit exceeded\n" {
			return "", fmt.Errorf("503 %q, Retry-After %q", rep.body, resp.Header.Get("Retry-After"))
		}
		return "timeout response", nil
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("status %d: %q", resp.StatusCode, rep.body)
	}
	if err := checkLength(resp, rep.body); err != nil {
		return "", err
	}
	body, err := decodeBody(resp, rep.body)
	if err != nil {
		return "", fmt.Errorf("decode: %v", err)
	}
	if err := complete(body); err != nil {
		return "", fmt.Errorf("falsely complete: status 200 with a clean end: %v", err)
	}
	return "complete", nil
}

// allAtOnce dials one connection per call, then sends every request at
// once, and returns what each client got.
func allAtOnce(addr string, calls []*call) ([]reply, error) {
	d := &dialer{addr: addr}
	conns := make([]*clientConn, len(calls))
	for i := range conns {
		cc, err := d.dial()
		if err != nil {
			for _, c := range conns[:i] {
				c.c.Close()
			}
			return nil, err
		}
		conns[i] = cc
	}
	out := make([]reply, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() {
			out[i] = d.do(&conns[i], c)
			if conns[i] != nil {
				conns[i].c.Close()
			}
		})
	}
	wg.Wait()
	d.bg.Wait()
	return out, nil
}
