package reliability

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/redistest"
)

// TestR5RedisFaults kills redis-server under load and restarts it, twice:
// once without persistence (internal/redistest: Redis forgets everything)
// and once with an append-only file synced on every write (nothing
// acknowledged is lost). Requests that need Redis must fail fast with a
// clear 503; no session may be corrupted or silently emptied; service must
// recover without restarting the servers.
func TestR5RedisFaults(t *testing.T) {
	t.Run("no-persistence", func(t *testing.T) { testR5(t, "R5-volatile", redistest.Start(t), false) })
	t.Run("aof", func(t *testing.T) { testR5(t, "R5-aof", startAOFRedis(t), true) })
}

// r5Req is one request of an R5 worker.
type r5Req struct {
	worker   int
	node     int
	kind     string // "incr" or "order"
	key      string // order: its Idempotency-Key
	start    time.Time
	rep      nodeReply
	newID    bool // incr: the answer set a new session cookie
	n        int  // incr: the counter answered
	hold     bool
	sessSeen string // incr: the session id the request was sent with
}

func testR5(t *testing.T, id string, rs redisServer, persistent bool) {
	workers := pick(16, 64)
	warm, outage, recover := 1500*time.Millisecond, 2*time.Second, 3*time.Second
	if full() {
		warm, outage, recover = 3*time.Second, 5*time.Second, 5*time.Second
	}
	kind := "without persistence (internal/redistest)"
	if persistent {
		kind = "with appendonly yes, appendfsync always"
	}
	rp := newReport(t, id, "R5 Redis faults: redis-server "+kind+" killed under load and restarted")
	rp.Load("2 lifeline-node processes (-store-timeout 500ms, -lock-ttl 2s); %d workers, each with its own session, alternate GET /incr (1 in 10 holds the lock 300ms) and POST /order with a fresh Idempotency-Key, round-robin over the nodes; after a 503 a worker pauses 20ms", workers)
	rp.Fault("after %v, SIGKILL to redis-server; %v later it is restarted on the same port; the load goes on %v more", warm, outage, recover)
	rp.Check("every request sent while Redis was down got 503 with Retry-After and a message naming the unavailable store, within 2s")
	rp.Check("sessions: every 200 continues its session's count (n = last acknowledged + 1, plus at most the requests whose save was ambiguous); a new session id only where Redis lost its data, and then visibly (new cookie, n = 1)")
	rp.Check("orders refused with 503 ran nothing (no side effect); retried after recovery, each has exactly one side effect")
	rp.Check("the nodes serve again after the restart without being restarted (same processes), and drain cleanly")
	nodes := startNodes(t, 2, rs.Addr(), "-time-limit", "20s", "-store-timeout", "500ms", "-lock-ttl", "2s")
	client := nodeClient(30 * time.Second)

	var (
		mu      sync.Mutex
		reqs    []*r5Req
		killAt  time.Time
		backAt  time.Time
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		started = make(chan struct{})
	)
	for w := range workers {
		wg.Go(func() {
			sess := ""
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				node := (w + i) % len(nodes)
				r := &r5Req{worker: w, node: node, start: time.Now()}
				if i%2 == 0 {
					r.kind, r.sessSeen = "incr", sess
					target := nodes[node].base + "/incr"
					if i%20 == 0 {
						target += "?hold=300ms"
						r.hold = true
					}
					var h http.Header
					if sess != "" {
						h = sessionHeader(sess)
					}
					r.rep = nodeDo(client, http.MethodGet, target, h)
					if r.rep.cookie != "" && r.rep.cookie != sess {
						r.newID = true
						if r.rep.code == http.StatusOK {
							sess = r.rep.cookie
						}
					}
					if r.rep.code == http.StatusOK {
						r.n, _ = incrN(r.rep.body)
					}
				} else {
					r.kind, r.key = "order", fmt.Sprintf("r5-%s-%d-%d", id, w, i)
					r.rep = nodeDo(client, http.MethodPost, nodes[node].base+"/order?work=10ms", http.Header{"Idempotency-Key": {r.key}})
				}
				mu.Lock()
				reqs = append(reqs, r)
				mu.Unlock()
				if w == 0 && i == 0 {
					close(started)
				}
				if r.rep.code == http.StatusServiceUnavailable {
					time.Sleep(20 * time.Millisecond) // a client backs off a little
				}
			}
		})
	}
	<-started
	time.Sleep(warm)
	killAt = time.Now()
	rs.Kill()
	time.Sleep(outage)
	// Redis answers a little before Restart returns: the outage, for the
	// requests that must get 503, ends when the restart begins.
	restartAt := time.Now()
	rs.Restart()
	backAt = time.Now()
	time.Sleep(recover)
	close(stop)
	wg.Wait()

	var fail failures
	type last struct {
		id        string
		n         int
		ambiguous int
	}
	sessions := make(map[int]*last)
	var during, duringFast, reissued, okAfter, ambiguous int
	var failLat []time.Duration
	firstOK := make([]time.Time, len(nodes))
	refused := []*r5Req{}
	codes := counter{}
	for _, r := range reqs {
		end := r.start.Add(r.rep.latency)
		codes[fmt.Sprintf("%s %d", r.kind, r.rep.code)]++
		inOutage := r.start.After(killAt.Add(50*time.Millisecond)) && end.Before(restartAt)
		if r.rep.err != nil {
			fail.add("%s on node %d: %v", r.kind, r.node, r.rep.err)
			continue
		}
		if r.rep.code == http.StatusServiceUnavailable {
			failLat = append(failLat, r.rep.latency)
			if !strings.Contains(string(r.rep.body), "unavailable") {
				fail.add("%s: 503 without a clear message: %s", r.kind, shortBody(r.rep.body))
			}
		}
		if inOutage {
			during++
			switch {
			case r.rep.code != http.StatusServiceUnavailable:
				fail.add("%s sent %v into the outage: %d %s, want 503", r.kind, r.start.Sub(killAt).Round(time.Millisecond), r.rep.code, shortBody(r.rep.body))
			case r.rep.latency > 2*time.Second:
				fail.add("%s: 503 after %v, want within 2s", r.kind, r.rep.latency)
			default:
				duringFast++
			}
		}
		if r.rep.code == http.StatusOK && r.start.After(backAt) && firstOK[r.node].IsZero() {
			firstOK[r.node] = r.start.Add(r.rep.latency)
		}
		if r.kind == "order" {
			if r.rep.code == http.StatusServiceUnavailable {
				refused = append(refused, r)
			}
			continue
		}
		s := sessions[r.worker]
		if s == nil {
			s = &last{}
			sessions[r.worker] = s
		}
		switch r.rep.code {
		case http.StatusOK:
			if r.start.After(backAt) {
				okAfter++
			}
			switch {
			case r.newID || s.id == "":
				if r.n != 1 {
					fail.add("worker %d: a new session answered n = %d", r.worker, r.n)
				}
				if s.id != "" {
					reissued++
					if persistent {
						fail.add("worker %d: session %s replaced by a new one although Redis kept its data", r.worker, s.id[:6])
					}
					if r.start.Before(killAt) {
						fail.add("worker %d: session replaced before Redis was killed", r.worker)
					}
				}
				*s = last{id: r.rep.cookie, n: r.n}
			case r.n <= s.n:
				fail.add("worker %d: n = %d after %d was acknowledged: a lost update", r.worker, r.n, s.n)
				s.n = r.n
			case r.n > s.n+1+s.ambiguous:
				fail.add("worker %d: n = %d after %d, with only %d ambiguous requests between", r.worker, r.n, s.n, s.ambiguous)
				s.n, s.ambiguous = r.n, 0
			default:
				if r.n > s.n+1 {
					ambiguous += r.n - s.n - 1
				}
				s.n, s.ambiguous = r.n, 0
			}
		case http.StatusServiceUnavailable, http.StatusConflict:
			// The save may or may not have reached Redis before it failed.
			s.ambiguous++
		default:
			fail.add("incr: %d %s", r.rep.code, shortBody(r.rep.body))
		}
	}
	if during == 0 {
		fail.add("no request was sent during the outage")
	}
	for i, at := range firstOK {
		if at.IsZero() {
			fail.add("node %d never served a request after the restart", i)
			continue
		}
		rp.Figure(fmt.Sprintf("node %s: first success after the restart", string(rune('a'+i))), "%v", at.Sub(backAt).Round(time.Millisecond))
	}
	for _, p := range nodes {
		select {
		case <-p.done:
			fail.add("%s exited during the test: %v", p.name, p.err)
		default:
		}
	}
	// Orders refused with 503 ran nothing; retried now, each runs once.
	before := effects(t, nodes)
	sem := make(chan struct{}, 32)
	var retries sync.WaitGroup
	for _, r := range refused {
		if before[r.key] != 0 {
			fail.add("order %s: refused with 503, yet its side effect ran %d times", r.key, before[r.key])
		}
		sem <- struct{}{}
		retries.Go(func() {
			defer func() { <-sem }()
			rep := nodeDo(client, http.MethodPost, nodes[(r.node+1)%len(nodes)].base+"/order?work=10ms", http.Header{"Idempotency-Key": {r.key}})
			if rep.code != http.StatusCreated {
				fail.add("order %s retried after the recovery: %d %s", r.key, rep.code, shortBody(rep.body))
			}
		})
	}
	retries.Wait()
	after := effects(t, nodes)
	for _, r := range refused {
		if after[r.key] != 1 {
			fail.add("order %s: %d side effects after its retry, want 1", r.key, after[r.key])
		}
	}
	stopNodes(t, nodes)
	rp.Figure("requests", "%d: %v", len(reqs), codes)
	rp.Figure("sent during the outage", "%d, all answered 503 within 2s: %d", during, duringFast)
	rp.Figure("503 answer time", "%s", latencies(failLat))
	rp.Figure("sessions continued after the restart / reissued (Redis lost them) / increments whose 503 had in fact been saved", "%d / %d / %d", okAfter, reissued, ambiguous)
	rp.Figure("orders refused with 503, retried after the recovery", "%d, each with exactly one side effect", len(refused))
	rp.Figure("violations", "%d", fail.n())
	if fail.n() > 0 {
		t.Errorf("%d violations:%s", fail.n(), fail.String())
	}
}
