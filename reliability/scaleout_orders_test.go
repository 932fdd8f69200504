package reliability

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/pgtest"
)

// TestScaleOutOrders runs three reference servers on one PostgreSQL
// database and kills one with SIGKILL while orders come in: the email jobs
// it had taken complete on the others, exactly once per order; the clients
// it left without an answer retry on another instance with the same
// Idempotency-Key and get the recorded answer or a single execution.
func TestScaleOutOrders(t *testing.T) {
	n := pick(60, 600)
	url := pgtest.Shared(t).Database(t)
	rp := newReport(t, "scaleout-orders", "Scale-out: three reference servers on one PostgreSQL, one killed under load")
	rp.Load("3 `lifeline -database URL -instance a|b|c -job-timeout 2s` processes; %d POST /demo/order (email job of 1s) with an Idempotency-Key and a ref, 12 clients, round-robin over the instances", n)
	rp.Fault("SIGKILL of instance b once half of the orders were sent; b restarted under the same name at the end")
	rp.Check("every order in the database once, with 4 items; exactly one email per order, the emails b did not send sent by a or c; every client answered 201 (first or after a retry on another instance); nothing left placed once b is back")
	bin := binary(t, refServerPkg)
	names := []string{"a", "b", "c"}
	procs := make([]*proc, len(names))
	args := func(name string) []string {
		return []string{"-addr", "127.0.0.1:0", "-data", dataDir(t), "-database", url, "-instance", name, "-job-timeout", "2s", "-drain", "5s"}
	}
	for i, name := range names {
		procs[i] = startProc(t, name, bin, args(name)...)
	}
	var (
		fail     failures
		mu       sync.Mutex
		outcomes = counter{}
		killOnce sync.Once
		killed   = make(chan struct{})
		wg       sync.WaitGroup
	)
	client := &http.Client{Timeout: 40 * time.Second}
	sem := make(chan struct{}, 12)
	start := time.Now()
	for i := range n {
		if i == n/2 {
			killOnce.Do(func() {
				_ = procs[1].cmd.Process.Kill()
				close(killed)
			})
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ref, key := fmt.Sprintf("S-%d", i), fmt.Sprintf("scale-%d", i)
			target := fmt.Sprintf("/demo/order?work=20ms&email=1s&ref=%s", ref)
			inst := i % 3
			var got []string
			for attempt := 0; attempt < 6; attempt++ {
				if inst == 1 && chanClosed(killed) {
					inst = 2 - attempt%2*2 // b is gone: a or c
				}
				a := postOrder(client, procs[inst].base+target, key)
				got = append(got, names[inst]+":"+a.String())
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
			if last[2:] != "201" {
				fail.add("%s: no 201 after %v", ref, got)
			}
		})
	}
	wg.Wait()
	rp.Figure("clients", "%s in %v", outcomes, time.Since(start).Round(time.Millisecond))
	// b comes back under its name: it settles the orders it left placed.
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
	for _, p := range []*proc{procs[0], procs[1], procs[2]} {
		if code := p.stop(t, 30*time.Second); code != 0 {
			fail.add("%s: exit status %d", p.name, code)
		}
	}
	rp.Figure("violations", "%d", fail.n())
	if fail.n() > 0 {
		t.Errorf("%d violations:%s", fail.n(), fail.String())
	}
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
