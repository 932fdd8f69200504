package reliability

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lifeline-go/lifeline/internal/pgtest"
	"github.com/lifeline-go/lifeline/internal/redistest"
)

// TestScaleOutOrders runs three reference servers on one PostgreSQL
// database and one redis-server for their sessions, and kills one with
// SIGKILL while orders and session requests come in: the email jobs it had
// taken complete on the others, exactly once per order; the clients it left
// without an answer retry on another instance with the same
// Idempotency-Key and get the recorded answer or a single execution; the
// sessions keep their locks across the instances: the increments of one
// session over the three are serialised, a lock held on one instance makes
// another wait, the lock the killed instance held is released by its TTL,
// and a holder stopped past its TTL has its write refused.
func TestScaleOutOrders(t *testing.T) {
	n := pick(60, 600)
	workers := max(3, pick(6, 12))
	const (
		lockTTL  = 2 * time.Second
		pairHold = 500 * time.Millisecond
	)
	url := pgtest.Shared(t).Database(t)
	rs := redistest.Start(t)
	redisURL := "redis://" + rs.Addr() + "/0"
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	t.Cleanup(func() { rdb.Close() })
	rp := newReport(t, "scaleout-orders", "Scale-out: three reference servers on one PostgreSQL and one Redis, one killed under load")
	rp.Load("3 `lifeline -database URL -redis URL -session-lock-ttl %v -instance a|b|c -job-timeout 2s` processes on one PostgreSQL and one redis-server (sessions in session/redisstore), both on loopback", lockTTL)
	rp.Load("%d POST /demo/order (work 100ms, email job of 1s) with an Idempotency-Key and a ref, 12 clients, round-robin over the instances", n)
	rp.Load("at the same time, one session incremented by %d clients (GET /demo/session?hold=0s&close=1, round-robin over the instances) until the orders are done", workers)
	rp.Load("lock pairs before the kill: a session held %v on a, b, c while b, c, a ask for it", pairHold)
	rp.Fault("SIGKILL of instance b, while it holds a session's lock (GET /demo/session?hold=60s), once half of the orders were sent; b restarted under the same name at the end")
	rp.Fault("after the kill, SIGSTOP of instance c while it holds a session's lock, for longer than the lock's TTL, then SIGCONT")
	rp.Check("every order in the database once, with 4 items; exactly one email per order, the emails b did not send sent by a or c; every client answered 201 (first or after a retry on another instance, which replays the recorded answer or executes once); nothing left placed once b is back")
	rp.Check("the session's increments serialised across the instances: no value answered twice, the values in the order the instances took the lock, the final value = the acknowledged increments + at most those whose answer was lost with b")
	rp.Check("a lock held on one instance makes another wait until the holder's work ended; the lock of the killed b is taken by another instance within its TTL (+2s); the write of the stopped c, fenced out, is refused with 503 and the session keeps the other instance's increments")
	bin := binary(t, refServerPkg)
	names := []string{"a", "b", "c"}
	procs := make([]*proc, len(names))
	args := func(name string) []string {
		return []string{"-addr", "127.0.0.1:0", "-data", dataDir(t), "-database", url, "-redis", redisURL,
			"-session-lock-ttl", lockTTL.String(), "-instance", name, "-job-timeout", "2s", "-drain", "5s"}
	}
	for i, name := range names {
		procs[i] = startProc(t, name, bin, args(name)...)
	}
	var (
		fail     failures
		mu       sync.Mutex
		outcomes = counter{}
		retries  = counter{}
		killed   = make(chan struct{})
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	client := &http.Client{Timeout: 40 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	defer client.CloseIdleConnections()
	sc := &http.Client{Timeout: 40 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	defer sc.CloseIdleConnections()

	// The session storm, from now until the orders are done.
	stormID, err := newSession(sc, procs[0].base)
	if err != nil {
		t.Fatal(err)
	}
	storm := &sessionStorm{id: stormID, workers: workers, lost: counter{}, refused: counter{}}
	var stormWG sync.WaitGroup
	stormWG.Go(func() {
		storm.run(sc, func(i int) (string, string) {
			inst := i % 3
			if inst == 1 && chanClosed(killed) {
				inst = 2 - i/3%2*2 // b is gone: a or c
			}
			return names[inst], procs[inst].base
		}, killed, stop)
	})
	// One lock held on each instance while the next asks for it.
	pairsDone := make(chan struct{})
	go func() {
		defer close(pairsDone)
		var waits []string
		for i := range procs {
			holder, waiter := procs[i], procs[(i+1)%3]
			w := lockPair(&fail, sc, rdb, holder, waiter, pairHold)
			waits = append(waits, fmt.Sprintf("%s→%s %v", holder.name, waiter.name, w.Round(time.Millisecond)))
		}
		rp.Figure(fmt.Sprintf("lock held %v on one instance: the next one waited", pairHold), "%s", strings.Join(waits, ", "))
	}()

	<-pairsDone // the pairs use b
	sem := make(chan struct{}, 12)
	start := time.Now()
	var (
		afterKill sync.WaitGroup
		killedAt  time.Time
	)
	for i := range n {
		if i == n/2 {
			k := holdThenKill(t, sc, rdb, procs[1], procs[0])
			killedAt = k.start
			close(killed)
			afterKill.Go(func() {
				k.after(rp, &fail, sc, procs[0], lockTTL)
				fencedHolder(rp, &fail, sc, rdb, procs[2], procs[0], lockTTL)
			})
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ref, key := fmt.Sprintf("S-%d", i), fmt.Sprintf("scale-%d", i)
			target := fmt.Sprintf("/demo/order?work=100ms&email=1s&ref=%s", ref)
			inst := i % 3
			var got []string
			for attempt := 0; attempt < 6; attempt++ {
				if inst == 1 && chanClosed(killed) {
					inst = 2 - attempt%2*2 // b is gone: a or c
				}
				a := postScaleOrder(client, procs[inst].base+target, key)
				got = append(got, names[inst]+":"+a.String())
				if attempt > 0 && a.code == http.StatusCreated {
					mu.Lock()
					if a.replayed {
						retries["replayed"]++
					} else {
						retries["executed"]++
					}
					mu.Unlock()
				}
				if a.code == http.StatusCreated && a.Order.Ref == ref {
					break
				}
				inst = (inst + 1) % 3
			}
			mu.Lock()
			defer mu.Unlock()
			last := got[len(got)-1]
			if len(got) > 1 {
				outcomes[fmt.Sprintf("retried, last %s", last[2:])]++
			} else {
				outcomes["first "+last[2:]]++
			}
			if !strings.HasPrefix(last[2:], "201") {
				fail.add("%s: no 201 after %v", ref, got)
			}
		})
	}
	wg.Wait()
	afterKill.Wait()
	close(stop)
	stormWG.Wait()
	rp.Figure("clients", "%s in %v", outcomes, time.Since(start).Round(time.Millisecond))
	rp.Figure("retries on another instance answered 201", "%s", orNone(retries))
	final := sessGet(sc, procs[0].base, storm.id, "hold=0s&close=1")
	if final.code != http.StatusOK {
		t.Fatalf("last read of the storm's session: %v", final)
	}
	storm.check(rp, &fail, final.ans.Visits-1)
	// b comes back under its name: it settles the orders it left placed.
	restarted := time.Since(killedAt)
	procs[1] = startProc(t, "b", bin, args("b")...)
	deadline := time.Now().Add(120 * time.Second)
	var orders []refOrder
	for {
		var err error
		if orders, err = refOrdersDB("", url); err != nil {
			t.Fatal(err)
		}
		done := len(orders) == n
		for _, o := range orders {
			done = done && o.Emails > 0 && o.State != "placed"
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	rp.Figure("every order settled with its email", "%v after the kill of b (b restarted %v after the kill)",
		time.Since(killedAt).Round(100*time.Millisecond), restarted.Round(100*time.Millisecond))
	states := counter{}
	for _, o := range orders {
		states[o.Instance+"/"+o.State]++
		if o.Emails != 1 || len(o.Items) != 4 || o.State == "placed" {
			fail.add("order %s (placed by %s): %s, %d items, %d emails", o.Ref, o.Instance, o.State, len(o.Items), o.Emails)
		}
	}
	if len(orders) != n {
		fail.add("%d orders in the database, want %d", len(orders), n)
	}
	byInstance, err := emailsByInstance(url)
	if err != nil {
		t.Fatal(err)
	}
	rp.Figure("orders by instance/state", "%s", states)
	rp.Figure("emails sent by instance", "%s", byInstance)
	for _, p := range procs {
		if code := p.stop(t, 30*time.Second); code != 0 {
			fail.add("%s: exit status %d", p.name, code)
		}
	}
	rp.Figure("violations", "%d", fail.n())
	if fail.n() > 0 {
		t.Errorf("%d violations:%s", fail.n(), fail.String())
	}
}

// scaleAnswer is what a client got for POST /demo/order.
type scaleAnswer struct {
	code     int // 0: no answer
	replayed bool
	Order    refOrder `json:"order"`
}

func (a scaleAnswer) String() string {
	switch {
	case a.code == 0:
		return "no answer"
	case a.replayed:
		return fmt.Sprintf("%d replayed", a.code)
	}
	return fmt.Sprint(a.code)
}

// postScaleOrder sends the order with key and reads the answer.
func postScaleOrder(c *http.Client, url, key string) scaleAnswer {
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		return scaleAnswer{}
	}
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.Do(req)
	if err != nil {
		return scaleAnswer{}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return scaleAnswer{}
	}
	a := scaleAnswer{code: resp.StatusCode, replayed: resp.Header.Get("Idempotent-Replayed") == "true"}
	_ = json.Unmarshal(body, &a)
	return a
}

// chanClosed reports whether c is closed.
func chanClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// emailsByInstance counts the emails each instance sent.
func emailsByInstance(url string) (counter, error) {
	db, err := openRefDB("", url)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT instance, count(*) FROM emails GROUP BY instance`)
	if err != nil {
		return nil, fmt.Errorf("emails: %w", err)
	}
	defer rows.Close()
	out := counter{}
	for rows.Next() {
		var (
			inst string
			n    int
		)
		if err := rows.Scan(&inst, &n); err != nil {
			return nil, fmt.Errorf("emails: %w", err)
		}
		out[inst] = n
	}
	return out, rows.Err()
}
