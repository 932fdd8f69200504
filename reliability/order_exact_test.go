package reliability

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestOrderExact checks that an order of the reference server is confirmed
// exactly when its client got the 201, whatever the timing (issue 14): one
// slow transaction holds the store while a client gives up at 3s, and
// orders with random work and random client timeouts; on SQLite and
// PostgreSQL.
func TestOrderExact(t *testing.T) {
	n := pick(40, 200)
	eachRefDatabase(t, func(t *testing.T, db, url string) {
		rp := newReport(t, "orders-exact-"+db, fmt.Sprintf("Orders exact by delivery on %s", db))
		rp.Load("`lifeline` on %s; (a) a transaction of the test holds the orders table for 5s while two clients order, one giving up at 3s, one waiting 15s; (b) %d orders, 20 at a time, work 0-800ms, each client giving up after a random 50ms-1.5s", db, n)
		rp.Check("an order whose client read the whole 201 is confirmed; one whose client got nothing is not confirmed (unconfirmed with the reason, failed, or absent); 0 mismatches")
		dir := dataDir(t)
		p := startProc(t, "lifeline", binary(t, refServerPkg), refArgs(dir, url)...)
		var fail failures
		heldStore(t, rp, &fail, p, dir, url)
		randomTimeouts(t, rp, &fail, p, dir, url, n)
		if code := p.stop(t, 60*time.Second); code != 0 {
			fail.add("exit status %d", code)
		}
		p.checkLog(t)
		rp.Figure("mismatches", "%d", fail.n())
		if fail.n() > 0 {
			t.Errorf("%d mismatches:%s", fail.n(), fail.String())
		}
	})
}

// heldStore holds the orders table in a transaction of its own for 5s while
// a client that gives up at 3s and one that waits order.
func heldStore(t *testing.T, rp *report, fail *failures, p *proc, dir, url string) {
	t.Helper()
	db, err := openRefDBWrite(dir, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The server created the table; hold it.
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	lock := `UPDATE orders SET updated = updated WHERE ref = 'none'` // SQLite: BEGIN IMMEDIATE took the write lock
	if url != "" {
		lock = `LOCK TABLE orders IN EXCLUSIVE MODE`
	}
	if _, err := tx.Exec(lock); err != nil {
		t.Fatal(err)
	}
	held := time.Now()
	var wg sync.WaitGroup
	got := make([]exactAnswer, 2)
	for i, giveUp := range []time.Duration{3 * time.Second, 15 * time.Second} {
		wg.Go(func() { got[i] = orderWithin(p.addr, fmt.Sprintf("H-%d", i), 0, giveUp) })
	}
	time.Sleep(5*time.Second - time.Since(held)) // the slow transaction's length: the fault itself
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	settled := waitSettled(t, p, []string{"H-0", "H-1"})
	for i, a := range got {
		ref := fmt.Sprintf("H-%d", i)
		o := settled[ref]
		rp.Figure("held store: client "+ref, "%s, order %s (%s)", a, o.State, o.Reason)

		checkExact(fail, ref, a, o)
	}
	if !got[1].full {
		fail.add("H-1: the client that waited 15s got %s, want the 201", got[1])
	}
}

// randomTimeouts places n orders with random work and random client
// timeouts.
func randomTimeouts(t *testing.T, rp *report, fail *failures, p *proc, dir, url string, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 14))
	type order struct {
		ref          string
		work, giveUp time.Duration
	}
	orders := make([]order, n)
	refs := make([]string, n)
	for i := range orders {
		orders[i] = order{
			ref:    fmt.Sprintf("T-%d", i),
			work:   time.Duration(rng.Int64N(int64(800 * time.Millisecond))),
			giveUp: 50*time.Millisecond + time.Duration(rng.Int64N(int64(1450*time.Millisecond))),
		}
		refs[i] = orders[i].ref
	}
	got := make([]exactAnswer, n)
	sem := make(chan struct{}, 20)
	var wg sync.WaitGroup
	for i, o := range orders {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			got[i] = orderWithin(p.addr, o.ref, o.work, o.giveUp)
		})
	}
	wg.Wait()
	settled := waitSettled(t, p, refs)
	outcomes := counter{}
	for i, o := range orders {
		s := settled[o.ref]
		outcomes[got[i].String()+" → "+s.State]++
		checkExact(fail, o.ref, got[i], s)
	}
	rp.Figure("random timeouts: what the client got → the order's state", "%s", outcomes)
}

// checkExact adds a mismatch when the order's state is not what its client
// got.
func checkExact(fail *failures, ref string, a exactAnswer, o refOrder) {
	switch {
	case a.full && o.State != "confirmed":
		fail.add("%s: the client read the whole 201, the order is %q (%s)", ref, o.State, o.Reason)
	case !a.full && a.bytes == 0 && o.State == "confirmed":
		fail.add("%s: the client got nothing, the order is confirmed", ref)
	case !a.full && a.bytes > 0:
		fail.add("%s: the client got %d bytes of a partial answer (%s)", ref, a.bytes, a.err)
	}
}

// exactAnswer is what one order's client got: the whole 201, or how many
// bytes before it gave up.
type exactAnswer struct {
	full  bool
	code  int
	bytes int
	err   string
}

func (a exactAnswer) String() string {
	switch {
	case a.full:
		return fmt.Sprint(a.code)
	case a.bytes == 0:
		return "nothing"
	}
	return "partial"
}

// copyConn keeps a copy of the bytes read from a connection.
type copyConn struct {
	net.Conn
	got bytes.Buffer
}

func (c *copyConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.got.Write(p[:n])
	return n, err
}

// parseFull reports whether b holds a whole response, and its code.
func parseFull(b []byte) (int, bool) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err != nil {
		return resp.StatusCode, false
	}
	return resp.StatusCode, true
}

// orderWithin posts an order and gives up after giveUp: then it takes
// whatever its TCP stack already holds (those bytes reached the client)
// and resets the connection.
func orderWithin(addr, ref string, work, giveUp time.Duration) exactAnswer {
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return exactAnswer{err: err.Error()}
	}
	c := &copyConn{Conn: raw}
	defer func() {
		_ = raw.(*net.TCPConn).SetLinger(0) // a client that gives up: RST
		raw.Close()
	}()
	_ = raw.SetDeadline(time.Now().Add(giveUp))
	fmt.Fprintf(raw, "POST /demo/order?work=%v&email=0s&ref=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", work, ref)
	_, err = io.ReadAll(c) // until the server closes (Connection: close) or the deadline
	// Gave up: take what the kernel already has (it acknowledged it).
	_ = raw.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, _ = io.ReadAll(c)
	code, full := parseFull(c.got.Bytes())
	a := exactAnswer{full: full && code == http.StatusCreated, code: code, bytes: c.got.Len()}
	if err != nil {
		a.err = err.Error()
	}
	return a
}

// waitSettled waits until none of refs is placed and returns their orders.
// An order not in the database yet may still be on its way (its
// transaction waiting for a lock): absent orders are waited for 10s.
func waitSettled(t *testing.T, p *proc, refs []string) map[string]refOrder {
	t.Helper()
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	for {
		var v struct{ Orders []refOrder }
		getJSON(t, p.base+"/demo/orders?limit=1000", &v)
		out := map[string]refOrder{}
		for _, o := range v.Orders {
			out[o.Ref] = o
		}
		pending := false
		for _, r := range refs {
			if st := out[r].State; st == "placed" || (st == "" && time.Since(start) < 10*time.Second) {
				pending = true
			}
		}
		if !pending || time.Now().After(deadline) {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// openRefDBWrite opens the reference server's database for writing.
func openRefDBWrite(dir, url string) (*sql.DB, error) {
	if url != "" {
		return sql.Open("pgx", url)
	}
	return sql.Open("sqlite", "file:"+filepath.Join(dir, "lifeline.sqlite")+"?_txlock=immediate&_pragma=busy_timeout(10000)")
}
