package sqlstore_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/idempotency/sqlstore"
	"github.com/lifeline-go/lifeline/internal/syncbuf"
)

// The crash child is this test binary, started with childEnv set: it
// serves the shop with the middleware and the SQL store on a loopback port
// and kills itself with SIGKILL at the point of an order named by
// crashAtEnv, as a crash, an OOM kill or kill -9 would.
const (
	childEnv   = "SQLSTORE_CRASH_CHILD"
	crashAtEnv = "SQLSTORE_CRASH_AT"
	dialectEnv = "SQLSTORE_CRASH_DIALECT"
	dsnEnv     = "SQLSTORE_CRASH_DSN"
	childLease = time.Second
)

func crashChild() int {
	d := database{dialect: sqlstore.SQLite, driver: "sqlite", dsn: os.Getenv(dsnEnv)}
	if os.Getenv(dialectEnv) == "postgres" {
		d.dialect, d.driver = sqlstore.Postgres, "pgx"
	}
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 2
	}
	db, err := sql.Open(d.driver, d.dsn)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := sqlstore.New(ctx, db, d.dialect, sqlstore.WithTable("crash"))
	if err != nil {
		return fail(err)
	}
	s, err := makeShop(d, db, store)
	if err != nil {
		return fail(err)
	}
	at := os.Getenv(crashAtEnv)
	s.crash = func(point string) {
		if point == at {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
	mw, err := idempotency.New(store, idempotency.WithLease(childLease), idempotency.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	fmt.Printf("ADDR %s\n", ln.Addr())
	return fail(http.Serve(ln, mw.Handler(s)))
}

// child is a running crash child.
type child struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncbuf.Buffer
	exited chan struct{}
}

// startChild starts a crash child on d that crashes at point ("" for
// none) and waits for its address. It is killed when the test ends.
func startChild(t *testing.T, d database, point string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", crashAtEnv+"="+point, dialectEnv+"="+d.dialect.String(), dsnEnv+"="+d.dsn)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c := &child{cmd: cmd, stderr: &syncbuf.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = c.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
				addr <- a
			}
		}
		_ = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.exited
	})
	select {
	case c.addr = <-addr:
	case <-c.exited:
		t.Fatalf("crash child exited at start: %s", c.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("crash child did not start within 30s: %s", c.stderr)
	}
	return c
}

type answer struct {
	status   int
	replayed bool
	body     string
}

func (c *child) post(key, item string) (answer, error) {
	req, err := http.NewRequest("POST", "http://"+c.addr+"/orders", strings.NewReader(item))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Idempotency-Key", key)
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get("Idempotent-Replayed") == "true", string(body)}, err
}

// crashPoints are the points of an order at which a crash child dies,
// and whether the order committed there (the retry is then its replay).
var crashPoints = []struct {
	point  string
	replay bool
}{
	{"inserted", false}, // the order is inserted, nothing recorded or committed
	{"recorded", false}, // the answer is written and recorded, not committed
	{"committed", true}, // order and answer committed, the answer not sent
}

// trialsEnv, when set to a number, makes TestCrash run that many trials per
// database at points drawn at random, and log the figures
// (docs/IDEMPOTENCY.md); by default each point is tried once.
const trialsEnv = "LIFELINE_CRASH_TRIALS"

// crashResult is what one trial saw.
type crashResult struct {
	orders    int           // orders of the trial's item in the database
	replayed  bool          // the retry's answer was a replay
	conflicts int           // 409s before the retry's answer
	blocked   time.Duration // from the crash to the retry's answer
}

// crashTrial kills a child at point during an order, then retries the
// order with the same key on next (a child over the same database) until
// it is not refused with 409, and checks the answer.
func crashTrial(t *testing.T, d database, db *sql.DB, next *child, point string, replay bool, n int) crashResult {
	t.Helper()
	key, item := fmt.Sprintf("key-%s-%d", point, n), fmt.Sprintf("item-%s-%d", point, n)
	doomed := startChild(t, d, point)
	if a, err := doomed.post(key, item); err == nil {
		t.Fatalf("the crashing run answered %d %s", a.status, a.body)
	}
	<-doomed.exited
	crashed := time.Now()
	var (
		a   answer
		res crashResult
	)
	for {
		var err error
		if a, err = next.post(key, item); err != nil {
			t.Fatalf("retry: %v; child log:\n%s", err, next.stderr)
		}
		if a.status != http.StatusConflict {
			break
		}
		res.conflicts++
		if time.Since(crashed) > 10*childLease {
			t.Fatalf("the key is still blocked %v after the crash (lease %v)", time.Since(crashed), childLease)
		}
		time.Sleep(20 * time.Millisecond) // polling the store's clock, not synchronising
	}
	res.blocked, res.replayed = time.Since(crashed), a.replayed
	if a.status != http.StatusCreated || a.replayed != replay {
		t.Fatalf("crash at %s: retry %d replayed=%v %s; want 201 replayed=%v", point, a.status, a.replayed, a.body, replay)
	}
	if want := fmt.Sprintf(`"item":%q`, item); !strings.Contains(a.body, want) {
		t.Fatalf("retry body %s, want the order of %s", a.body, item)
	}
	if err := db.QueryRow(d.sql(`SELECT COUNT(*) FROM orders WHERE item = $1`), item).Scan(&res.orders); err != nil {
		t.Fatal(err)
	}
	if res.orders != 1 {
		t.Errorf("crash at %s: %d orders of %s after the crash and the retry, want exactly 1", point, res.orders, item)
	}
	if replay && res.conflicts > 0 {
		t.Fatalf("a committed order's key answered 409 %d times before its replay", res.conflicts)
	}
	if res.blocked > childLease+2*time.Second {
		t.Fatalf("the key was blocked %v after the crash, past the lease of %v", res.blocked, childLease)
	}
	// A second retry is the replay of the order that stands.
	if b, err := next.post(key, item); err != nil || !b.replayed || b.body != a.body {
		t.Fatalf("second retry: %+v %v, want the replay of %s", b, err, a.body)
	}
	return res
}

// TestCrash kills the process that serves an order at each point of its
// path, and retries the order with the same key on another process over
// the same database: the retry gets either the recorded answer (the crash
// came after the commit) or a fresh run (before it), never a second order,
// and the key is blocked for no longer than the dead run's lease.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes that kill themselves; not in -short")
	}
	trials, _ := strconv.Atoi(os.Getenv(trialsEnv))
	eachDatabase(t, func(t *testing.T, d database) {
		db := d.open(t)
		next := startChild(t, d, "")
		if trials <= 0 {
			for i, p := range crashPoints {
				t.Run(p.point, func(t *testing.T) {
					r := crashTrial(t, d, db, next, p.point, p.replay, i)
					t.Logf("crash at %s: retry answered replayed=%v after %d conflicts, %v after the crash (lease %v)",
						p.point, r.replayed, r.conflicts, r.blocked.Round(time.Millisecond), childLease)
				})
			}
			return
		}
		var (
			counts          = map[string]int{}
			blocked         []time.Duration
			replayed        int
			lost, duplicate int
		)
		for i := range trials {
			p := crashPoints[rand.IntN(len(crashPoints))]
			r := crashTrial(t, d, db, next, p.point, p.replay, i)
			counts[p.point]++
			switch {
			case r.orders == 0:
				lost++
			case r.orders > 1:
				duplicate++
			}
			if r.replayed {
				replayed++
			} else {
				blocked = append(blocked, r.blocked)
			}
		}
		slices.Sort(blocked)
		pct := func(q float64) time.Duration {
			if len(blocked) == 0 {
				return 0
			}
			return blocked[min(len(blocked)-1, int(q*float64(len(blocked))))].Round(time.Millisecond)
		}
		t.Logf("%s: %d trials (%v): %d lost orders, %d duplicate orders, %d replays, %d fresh runs; key blocked after a crash before the commit: p50 %v, p99 %v, max %v (lease %v)",
			d.dialect, trials, counts, lost, duplicate, replayed, len(blocked), pct(0.5), pct(0.99), pct(1), childLease)
	})
}
