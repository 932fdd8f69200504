package reliability

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/redistest"
)

// TestR6ScaleOut runs three server processes sharing one Redis on
// loopback: concurrent increments of one session value lose none, and
// idempotent POSTs retried across instances have exactly one side effect.
func TestR6ScaleOut(t *testing.T) {
	rs := redistest.Start(t)
	nodes := startNodes(t, 3, rs.Addr(), "-time-limit", "5m")
	t.Run("session", func(t *testing.T) { testR6Session(t, nodes) })
	t.Run("idempotency", func(t *testing.T) { testR6Idempotency(t, nodes) })
	stopNodes(t, nodes)
}

func testR6Session(t *testing.T, nodes []*proc) {
	n := pick(1000, 10000)
	rp := newReport(t, "R6-session", "R6 scale-out: one session incremented from three processes")
	rp.Load("3 lifeline-node processes, sessions in one redis-server (session/redisstore); %d GET /incr with one session cookie, all in flight at once, spread round-robin over the 3 processes, each on its own connection", n)
	rp.Check("every request answered 200 after its session was saved (WriteClose); the values returned are exactly 2..%d, each once (the lock serialised them); a last read returns %d", n+1, n+2)
	client := nodeClient(10 * time.Minute)
	first := nodeDo(client, http.MethodGet, nodes[0].base+"/incr", nil)
	if first.err != nil || first.code != http.StatusOK || first.cookie == "" {
		t.Fatalf("first /incr: %d %v %q cookie %q", first.code, first.err, first.body, first.cookie)
	}
	id := first.cookie
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = make([]int, 0, n)
		lat  []time.Duration
		fail failures
	)
	start := time.Now()
	gate := make(chan struct{}, 256) // dial at most this many at once; the requests then wait in the servers
	var inFlight, most int
	for i := range n {
		gate <- struct{}{}
		wg.Go(func() {
			rep := nodeDoConnected(client, http.MethodGet, nodes[i%len(nodes)].base+"/incr", sessionHeader(id), func() {
				mu.Lock()
				inFlight++
				most = max(most, inFlight)
				mu.Unlock()
				<-gate
			})
			mu.Lock()
			inFlight--
			mu.Unlock()
			if rep.err != nil || rep.code != http.StatusOK {
				fail.add("incr %d: %d %v %s", i, rep.code, rep.err, shortBody(rep.body))
				return
			}
			v, err := incrN(rep.body)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fail.add("incr %d: %v", i, err)
				return
			}
			seen = append(seen, v)
			lat = append(lat, rep.latency)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	last := nodeDo(client, http.MethodGet, nodes[1].base+"/incr", sessionHeader(id))
	lastN, err := incrN(last.body)
	if err != nil || last.code != http.StatusOK || lastN != n+2 {
		fail.add("last /incr: %d, n = %d (%v), want %d", last.code, lastN, err, n+2)
	}
	slices.Sort(seen)
	dups, missing := 0, 0
	for i, want := 0, 2; want <= n+1; want++ {
		switch {
		case i < len(seen) && seen[i] == want:
			i++
			for i < len(seen) && seen[i] == want {
				dups++
				i++
			}
		default:
			missing++
		}
	}
	if dups > 0 || missing > 0 {
		fail.add("values returned: %d duplicated, %d missing (lost updates)", dups, missing)
	}
	rp.Figure("increments", "%d in %v (%.0f/s), final value %d", len(seen), elapsed.Round(time.Millisecond), float64(len(seen))/elapsed.Seconds(), lastN)
	rp.Figure("lost / duplicated values", "%d / %d", missing, dups)
	rp.Figure("requests in flight at once (most)", "%d", most)
	rp.Figure("latency (waiting for the lock included)", "%s", latencies(lat))
	rp.Figure("violations", "%d", fail.n())
	if fail.n() > 0 {
		t.Errorf("%d violations:%s", fail.n(), fail.String())
	}
}

// r6Answer is a node's /order answer.
type r6Answer struct {
	Node   string `json:"node"`
	Key    string `json:"key"`
	Effect int    `json:"effect"`
	Run    uint64 `json:"run"`
}

func testR6Idempotency(t *testing.T, nodes []*proc) {
	k := pick(500, 2000)
	rp := newReport(t, "R6-idempotency", "R6 scale-out: idempotent POSTs retried across three processes")
	rp.Load("%d keys; for each, POST /order?work=20-100ms to one process, and the same request to the two others 0-100ms later; a third of the first attempts reset their connection mid-run and retry; every client retries until it gets 201", k)
	rp.Check("each key's side effect happened exactly once across the 3 processes (sum of their /effects); every 201 a client got for a key names the same run, all but that run's own answer replayed")
	client := nodeClient(2 * time.Minute)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 6))
	type plan struct {
		key        string
		work       time.Duration
		delays     [2]time.Duration
		firstLeave bool
		leaveAfter time.Duration
	}
	plans := make([]plan, k)
	for i := range plans {
		plans[i] = plan{key: fmt.Sprintf("r6-%d-%d", i, rng.Uint32()), work: durBetween(rng, 20*time.Millisecond, 100*time.Millisecond),
			delays:     [2]time.Duration{durBetween(rng, 0, 100*time.Millisecond), durBetween(rng, 0, 100*time.Millisecond)},
			firstLeave: rng.IntN(3) == 0, leaveAfter: durBetween(rng, 0, 20*time.Millisecond)}
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		answers = map[string][]nodeReply{}
		fail    failures
		replays int
	)
	until201 := func(p plan, node int) {
		target := fmt.Sprintf("%s/order?work=%v", nodes[node].base, p.work)
		for attempt := 0; ; attempt++ {
			rep := nodeDo(client, http.MethodPost, target, http.Header{"Idempotency-Key": {p.key}})
			if rep.err == nil && rep.code == http.StatusCreated {
				mu.Lock()
				answers[p.key] = append(answers[p.key], rep)
				mu.Unlock()
				return
			}
			if attempt > 20 {
				fail.add("key %s on node %d: no 201 after 20 attempts: %d %v %s", p.key, node, rep.code, rep.err, shortBody(rep.body))
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	sem := make(chan struct{}, 256)
	start := time.Now()
	for i, p := range plans {
		first := i % len(nodes)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var inner sync.WaitGroup
			inner.Go(func() {
				if p.firstLeave {
					d := &dialer{addr: nodes[first].addr}
					var cc *clientConn
					d.do(&cc, &call{method: http.MethodPost, target: fmt.Sprintf("/order?work=%v", p.work),
						header: http.Header{"Idempotency-Key": {p.key}}, act: actLeaveRST, leaveAfter: p.leaveAfter})
				}
				until201(p, first)
			})
			for j, delay := range p.delays {
				inner.Go(func() {
					time.Sleep(delay)
					until201(p, (first+1+j)%len(nodes))
				})
			}
			inner.Wait()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	total := effects(t, nodes)
	multi := 0
	for _, p := range plans {
		if total[p.key] != 1 {
			multi++
			fail.add("key %s: side effect performed %d times", p.key, total[p.key])
		}
		var ran *r6Answer
		own := 0
		for _, rep := range answers[p.key] {
			var a r6Answer
			if err := json.Unmarshal(rep.body, &a); err != nil {
				fail.add("key %s: %v", p.key, err)
				continue
			}
			if ran == nil {
				ran = &a
			}
			if a != *ran || a.Effect != 1 {
				fail.add("key %s: answers differ: %+v and %+v", p.key, a, *ran)
			}
			if rep.replayed {
				replays++
			} else {
				own++
			}
		}
		if own > 1 {
			fail.add("key %s: %d answers not marked replayed", p.key, own)
		}
	}
	rp.Figure("keys", "%d in %v; 201 answers %d, of which replayed %d", k, elapsed.Round(time.Millisecond), func() int {
		n := 0
		for _, a := range answers {
			n += len(a)
		}
		return n
	}(), replays)
	rp.Figure("keys whose side effect did not happen exactly once", "%d", multi)
	rp.Figure("violations", "%d", fail.n())
	if fail.n() > 0 {
		t.Errorf("%d violations:%s", fail.n(), fail.String())
	}
}
