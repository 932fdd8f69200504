package reliability

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestOrderThroughput measures orders per second on the reference server,
// each with its durable email job (one transaction: the order and the job)
// beside the same order without a job (job=0), on SQLite and PostgreSQL,
// and the time from an order's commit, right before its answer goes out
// with Finish, to the start of its job. It prints figures; it asserts only
// that every order was answered 201 and every job ran.
func TestOrderThroughput(t *testing.T) {
	n := pick(200, 3000)
	eachRefDatabase(t, func(t *testing.T, db, url string) {
		rp := newReport(t, "order-throughput-"+db, fmt.Sprintf("Order + durable job throughput on %s", db))
		rp.Load("`lifeline` on %s; %d POST /demo/order?work=0s&email=0s, 16 clients on keep-alive connections; then %d with job=0 (no job)", db, n, n)
		dir := dataDir(t)
		p := startProc(t, "lifeline", binary(t, refServerPkg), refArgs(dir, url)...)
		var fail failures
		for _, mode := range []string{"job", "nojob"} {
			q := "work=0s&email=0s"
			if mode == "nojob" {
				q += "&job=0"
			}
			elapsed := postOrders(t, &fail, p, mode, q, n)
			rp.Figure("orders/s, "+mode, "%.0f (%d in %v)", float64(n)/elapsed.Seconds(), n, elapsed.Round(time.Millisecond))
		}
		// Every job ran: the emails.
		deadline := time.Now().Add(60 * time.Second)
		var orders []refOrder
		for {
			var err error
			if orders, err = refOrdersDB(dir, url); err != nil {
				t.Fatal(err)
			}
			emailed := 0
			for _, o := range orders {
				emailed += o.Emails
			}
			if emailed >= n || time.Now().After(deadline) {
				if emailed != n {
					fail.add("%d emails, want %d", emailed, n)
				}
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		lat, err := finishToJobStart(dir, url)
		if err != nil {
			t.Fatal(err)
		}
		rp.Figure("commit (then Finish) → job start", "%s", latencies(lat))
		if code := p.stop(t, 60*time.Second); code != 0 {
			fail.add("exit status %d", code)
		}
		rp.Figure("violations", "%d", fail.n())
		if fail.n() > 0 {
			t.Errorf("%d violations:%s", fail.n(), fail.String())
		}
	})
}

// postOrders places n orders with query q, 16 at a time, and returns how
// long they took.
func postOrders(t *testing.T, fail *failures, p *proc, prefix, q string, n int) time.Duration {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			resp, err := client.Post(fmt.Sprintf("%s/demo/order?%s&ref=%s-%d", p.base, q, prefix, i), "", nil)
			if err != nil {
				fail.add("order: %v", err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				fail.add("order: %s", resp.Status)
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// finishToJobStart returns, for each email job, the time from its order's
// commit (the answer goes out with Finish right after) to the job's first
// attempt.
func finishToJobStart(dir, url string) ([]time.Duration, error) {
	db, err := openRefDB(dir, url)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT o.placed, j.attempted_at FROM orders o JOIN river_job j ON j.id = o.job WHERE o.job <> 0`)
	if err != nil {
		return nil, fmt.Errorf("finish to job start: %w", err)
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() {
		var (
			placed    int64
			attempted time.Time
		)
		if err := rows.Scan(&placed, &attempted); err != nil {
			return nil, fmt.Errorf("finish to job start: %w", err)
		}
		out = append(out, attempted.Sub(time.Unix(0, placed)))
	}
	return out, rows.Err()
}
