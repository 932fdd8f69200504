package reliability

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/pgtest"
)

// throughputBaseEnv names a reference server binary (one built from an
// earlier commit, say) that TestOrderThroughput measures beside this
// tree's, interleaved, so that both see the same machine load.
const throughputBaseEnv = "LIFELINE_THROUGHPUT_BASE"

// throughputClients is how many orders are in flight at once.
const throughputClients = 16

// TestOrderThroughput measures orders per second on the reference server,
// each with its durable email job (one transaction: the order, the job and
// the recorded answer), beside the same order without a job (job=0), on
// SQLite and PostgreSQL, and the time from an order's commit, right before
// its answer goes out with Finish, to the start of its job. Every phase
// runs on a fresh server and a fresh database, the variants interleaved
// over several rounds; with $LIFELINE_THROUGHPUT_BASE, that binary's
// phases are interleaved with this tree's. Beside the rates it prints where
// the cost goes: the server's CPU per order, the statements it ran per order
// and how many it had to compile (SQLite), PostgreSQL's transactions per
// order, and how long after the last answer the last job was done. It
// asserts only that every order was answered 201 and every job ran once.
func TestOrderThroughput(t *testing.T) {
	n := pick(200, 3000)
	rounds := pick(1, 3)
	bins := []struct{ name, path string }{{"head", binary(t, refServerPkg)}}
	if base := os.Getenv(throughputBaseEnv); base != "" {
		bins = append(bins, struct{ name, path string }{"base", base})
	}
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			var pg *pgtest.Server
			if db == "postgres" {
				pg = pgtest.Shared(t)
			}
			rp := newReport(t, "order-throughput-"+db, fmt.Sprintf("Order + durable job throughput on %s", db))
			rp.Load("`lifeline` on %s; %d POST /demo/order?work=0s&email=0s, %d clients on keep-alive connections, with the email job or with job=0 (no job); each phase on a fresh server and database, %d round(s), variants interleaved", db, n, throughputClients, rounds)
			type variant struct{ bin, mode string }
			var order []variant
			for _, b := range bins {
				for _, mode := range []string{"job", "nojob"} {
					order = append(order, variant{b.name, mode})
				}
			}
			if len(bins) > 1 {
				rp.Load("%s binary (%s) measured beside this tree's (head)", "base", os.Getenv(throughputBaseEnv))
			}
			var fail failures
			results := make(map[variant][]phase)
			for r := range rounds {
				for i := range order {
					v := order[(i+r)%len(order)]
					path := bins[slices.IndexFunc(bins, func(b struct{ name, path string }) bool { return b.name == v.bin })].path
					url := ""
					if pg != nil {
						url = pg.Database(t)
					}
					results[v] = append(results[v], runPhase(t, &fail, path, v.mode, url, n))
				}
			}
			for _, v := range order {
				rp.Figure(fmt.Sprintf("%s %s: orders/s", v.bin, v.mode), "%s", summary(results[v], n))
			}
			for _, v := range order {
				rp.Figure(fmt.Sprintf("%s %s: per order", v.bin, v.mode), "%s", breakdown(results[v], n))
			}
			for _, b := range bins {
				var lat []time.Duration
				for _, ph := range results[variant{b.name, "job"}] {
					lat = append(lat, ph.jobStart...)
				}
				rp.Figure(b.name+" job: commit (then Finish) → job start", "%s", latencies(lat))
			}
			rp.Figure("violations", "%d", fail.n())
			if fail.n() > 0 {
				t.Errorf("%d violations:%s", fail.n(), fail.String())
			}
		})
	}
}

// phase is what one server measured placing n orders.
type phase struct {
	answered time.Duration   // the last order's answer
	done     time.Duration   // the last job done (answered when there is none)
	cpu      time.Duration   // the server's CPU time over done
	stmts    int64           // statements the server ran (SQLite; -1 when it does not say)
	compiled int64           // of which compiled (SQLite; -1 when it does not say)
	xacts    int64           // PostgreSQL transactions committed in the database (-1 on SQLite)
	jobStart []time.Duration // each job's start after its order's commit
}

// runPhase starts the server bin on a fresh data directory (or the fresh
// PostgreSQL database url), places n orders, with their email jobs unless
// mode is "nojob", waits for every job to be done and stops the server.
func runPhase(t *testing.T, fail *failures, bin, mode, url string, n int) phase {
	t.Helper()
	dir := dataDir(t)
	p := startProc(t, "lifeline", bin, refArgs(dir, url)...)
	q := "work=0s&email=0s"
	want := n
	if mode == "nojob" {
		q += "&job=0"
		want = 0
	}
	db, err := openRefDB(dir, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cpu0 := procCPU(t, p)
	ph := phase{stmts: -1, compiled: -1, xacts: -1}
	start := time.Now()
	postOrders(t, fail, p, mode, q, n)
	ph.answered = time.Since(start)
	polls := int64(0)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var emails int
		polls++
		if err := db.QueryRow(`SELECT count(*) FROM emails`).Scan(&emails); err != nil {
			t.Fatal(err)
		}
		if emails >= want || time.Now().After(deadline) {
			if emails != want {
				fail.add("%s: %d emails, want %d", mode, emails, want)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	ph.done = time.Since(start)
	ph.cpu = procCPU(t, p) - cpu0
	if mode != "nojob" {
		if ph.jobStart, err = finishToJobStart(dir, url); err != nil {
			t.Fatal(err)
		}
		polls++
	}
	if code := p.stop(t, 60*time.Second); code != 0 {
		fail.add("exit status %d", code)
	}
	if m := statementsLog.FindStringSubmatch(p.stderr.String()); m != nil {
		ph.stmts, _ = strconv.ParseInt(m[1], 10, 64)
		ph.compiled, _ = strconv.ParseInt(m[2], 10, 64)
	}
	if url != "" {
		if ph.xacts, err = serverTransactions(db, url); err != nil {
			t.Fatal(err)
		}
		ph.xacts -= polls
	}
	return ph
}

// serverTransactions returns how many transactions committed in the
// PostgreSQL database at url, once the server's connections are gone (a
// backend flushes its statistics as it exits). It closes db, whose
// transactions are counted too, and reads with a connection of its own.
func serverTransactions(db *sql.DB, url string) (int64, error) {
	if err := db.Close(); err != nil {
		return 0, err
	}
	stats, err := sql.Open("pgx", url)
	if err != nil {
		return 0, err
	}
	defer stats.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var others int
		if err := stats.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&others); err != nil {
			return 0, fmt.Errorf("transactions: %w", err)
		}
		if others == 0 {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("transactions: %d connections still open 10s after the server stopped", others)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// This connection's own queries commit only when it exits, after this.
	var n int64
	if err := stats.QueryRow(`SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
		return 0, fmt.Errorf("transactions: %w", err)
	}
	return n, nil
}

// statementsLog is the reference server's count of its SQLite statements,
// logged as it closes the database.
var statementsLog = regexp.MustCompile(`msg="database statements" run=([0-9]+) compiled=([0-9]+)`)

// procCPU returns the user and system CPU time p has used so far.
func procCPU(t *testing.T, p *proc) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command's ")": state is the 3rd field of the
	// line, utime and stime the 14th and 15th, in clock ticks of 1/100 s.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: %q", p.cmd.Process.Pid, b)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// summary formats the phases' answer rates and end-to-end rates (until
// the last job was done): the median and the range over the rounds.
func summary(phs []phase, n int) string {
	rate := func(f func(phase) time.Duration) string {
		var rs []float64
		for _, ph := range phs {
			rs = append(rs, float64(n)/f(ph).Seconds())
		}
		slices.Sort(rs)
		if len(rs) == 1 {
			return fmt.Sprintf("%.0f", rs[0])
		}
		return fmt.Sprintf("%.0f (%.0f–%.0f)", rs[len(rs)/2], rs[0], rs[len(rs)-1])
	}
	return fmt.Sprintf("answered %s; with every job done %s", rate(func(ph phase) time.Duration { return ph.answered }),
		rate(func(ph phase) time.Duration { return ph.done }))
}

// breakdown formats where the phases' cost went, per order, as medians
// over the rounds.
func breakdown(phs []phase, n int) string {
	med := func(f func(phase) float64) float64 {
		var vs []float64
		for _, ph := range phs {
			vs = append(vs, f(ph))
		}
		slices.Sort(vs)
		return vs[len(vs)/2]
	}
	per := func(v int64) float64 { return float64(v) / float64(n) }
	out := []string{
		fmt.Sprintf("server CPU %.2f ms", med(func(ph phase) float64 { return float64(ph.cpu) / float64(time.Millisecond) / float64(n) })),
		fmt.Sprintf("last job done %.0f ms after the last answer", med(func(ph phase) float64 { return float64(ph.done-ph.answered) / float64(time.Millisecond) })),
	}
	if phs[0].stmts >= 0 {
		out = append(out, fmt.Sprintf("SQLite statements %.1f, of which compiled %.2f",
			med(func(ph phase) float64 { return per(ph.stmts) }), med(func(ph phase) float64 { return per(ph.compiled) })))
	}
	if phs[0].xacts >= 0 {
		out = append(out, fmt.Sprintf("PostgreSQL transactions %.2f", med(func(ph phase) float64 { return per(ph.xacts) })))
	}
	return strings.Join(out, "; ")
}

// postOrders places n orders with query q, throughputClients at a time,
// and returns how long they took.
func postOrders(t *testing.T, fail *failures, p *proc, prefix, q string, n int) time.Duration {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: throughputClients}}
	defer client.CloseIdleConnections()
	sem := make(chan struct{}, throughputClients)
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
