package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/pgtest"
)

// crashPoint is a point of the order path where the crash matrix kills
// the reference server with SIGKILL.
type crashPoint struct {
	name  string
	fault string // $LIFELINE_FAULT: the server kills itself there; "" = the test kills it
	work  time.Duration
	email time.Duration
	// killAfter is when the test kills the process, counted from the
	// request (before the answer) or from the answer: a random instant in
	// [lo, hi).
	fromAnswer bool
	lo, hi     time.Duration
}

// crashPoints are the four points of the order path: while the order's work
// runs (before its transaction commits), after the commit (of the order,
// its answer's record and its email job) but before the answer is written,
// after the answer was delivered but before the order is settled
// (confirmed), and while the email job works. The email job commits with
// the order and starts at once: at the two middle points it may be waiting
// or already working when the process dies.
var crashPoints = []crashPoint{
	{name: "before commit", work: 400 * time.Millisecond, email: 100 * time.Millisecond, lo: 0, hi: 350 * time.Millisecond},
	{name: "after commit, before the answer", fault: "after-commit", work: 10 * time.Millisecond, email: 100 * time.Millisecond},
	{name: "after the answer, before the settle", fault: "after-answer", work: 10 * time.Millisecond, email: time.Second},
	{name: "during the job", work: 10 * time.Millisecond, email: 800 * time.Millisecond, fromAnswer: true, lo: 50 * time.Millisecond, hi: 700 * time.Millisecond},
}

// TestCrashMatrix kills the reference server with SIGKILL at each point of
// the order path, on SQLite and on PostgreSQL, restarts it on the same
// database and retries the order as a client would (same Idempotency-Key,
// same ref): no order is lost or placed twice, its email is sent exactly
// once, no job is lost, no key stays blocked, and nothing stays placed.
//
// The trials run in parallel lanes ($CRASH_LANES, at most 8 by default):
// each lane is one reference server after another on a database of its own
// (its own data directory, or its own PostgreSQL database), so a kill in
// one lane never touches another lane's process or data.
func TestCrashMatrix(t *testing.T) {
	trials := pick(1, 100)
	if v, err := strconv.Atoi(getenv("CRASH_TRIALS")); err == nil && v > 0 {
		trials = v // a run of its own size: CRASH_TRIALS=10
	}
	lanes := min(8, trials*len(crashPoints))
	if v, err := strconv.Atoi(getenv("CRASH_LANES")); err == nil && v > 0 {
		lanes = v
	}
	eachRefDatabase(t, func(t *testing.T, db, url string) { crashMatrix(t, db, url, trials, lanes) })
}

// crashTask is one trial of the matrix: trial i at crashPoints[point].
type crashTask struct{ point, i int }

// crashTally gathers what the trials of one point saw, from every lane.
type crashTally struct {
	mu              sync.Mutex
	outcomes        counter
	toDone, toRetry []time.Duration
}

func (c *crashTally) add(tr crashResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.outcomes[tr.outcome]++
	c.toDone = append(c.toDone, tr.toDone)
	if tr.toRetry > 0 {
		c.toRetry = append(c.toRetry, tr.toRetry)
	}
}

func crashMatrix(t *testing.T, db, url string, trials, lanes int) {
	rp := newReport(t, "crash-"+db, fmt.Sprintf("Crash matrix on %s: kill -9 at four points of the order path", db))
	rp.Load("`lifeline -job-timeout 2s` on %s; per point %d trials: one POST /demo/order with an Idempotency-Key and a ref, the process killed with SIGKILL at the point, restarted on the same database, the order retried with the same key and ref until it gets an answer", db, trials)
	own := "a data directory per lane"
	if url != "" {
		own = "a PostgreSQL database per lane, in one PostgreSQL server"
	}
	rp.Load("%d lanes in parallel, each one server at a time on a database of its own (%s); the trials of the four points interleaved, each taken by the next free lane", lanes, own)
	rp.Fault("SIGKILL: before the commit (a random instant of the order's 400ms of work), after the commit before the answer and after the answer's delivery before the order is settled ($LIFELINE_FAULT: the process kills itself there; the email job, committed with the order, may be waiting or working), during the 800ms email job (a random instant)")
	rp.Check("0 lost orders: every order is in the database with its 4 items, settled (confirmed or unconfirmed, never left placed)")
	rp.Check("0 duplicate side effects: exactly one email per order; a retry gets 201, the recorded answer or a single execution")
	rp.Check("0 jobs lost: every email job completed after the restart, or was handed back (cancelled, or running with its cancellation requested, and replaced by a copy that completed); no job left pending at the end")
	rp.Check("a job of the killed process runs again at once: for an order that committed, the email is sent within %v of the restart", restartToEmail)
	rp.Check("0 keys blocked past the lease: the retry after the restart is answered within the key's lease (10s) plus 10s; a committed order is replayed (201), one that did not commit runs once")
	bin := binary(t, refServerPkg)
	// The trials of the four points interleaved, so that every lane gets
	// its share of the long ones (a retry after the lease, a job rescued).
	tasks := make(chan crashTask, trials*len(crashPoints))
	for i := range trials {
		for p := range crashPoints {
			tasks <- crashTask{point: p, i: i}
		}
	}
	close(tasks)
	tally := make([]*crashTally, len(crashPoints))
	for p := range tally {
		tally[p] = &crashTally{outcomes: counter{}}
	}
	var (
		fail   failures
		mu     sync.Mutex // guards orders and states
		orders int
		states = counter{}
		wg     sync.WaitGroup
	)
	seed := uint64(time.Now().UnixNano())
	for lane := range lanes {
		wg.Go(func() {
			t.Run(fmt.Sprintf("lane%d", lane), func(t *testing.T) {
				laneURL := url
				if url != "" && lane > 0 {
					laneURL = pgtest.Shared(t).Database(t)
				}
				dir := dataDir(t)
				args := refArgs(dir, laneURL, "-instance", "crash", "-job-timeout", "2s", "-drain", "5s")
				rng := rand.New(rand.NewPCG(seed, uint64(lane)))
				refs := map[string]bool{}
				for task := range tasks {
					cp := crashPoints[task.point]
					ref := fmt.Sprintf("C-%d-%d", task.point, task.i)
					refs[ref] = true
					tr := crashTrial(t, bin, args, cp, ref, rng)
					tally[task.point].add(tr)
					for _, f := range tr.fails {
						fail.add("%s, %s (lane %d): %s", cp.name, ref, lane, f)
					}
				}
				n, st := crashCheckDB(t, dir, laneURL, refs, &fail)
				mu.Lock()
				orders += n
				for k, v := range st {
					states[k] += v
				}
				mu.Unlock()
			})
		})
	}
	wg.Wait()
	for p, cp := range crashPoints {
		c := tally[p]
		rp.Figure(cp.name+": outcomes", "%s", c.outcomes)
		rp.Figure(cp.name+": restart → email sent", "%s", latencies(c.toDone))
		if len(c.toRetry) > 0 {
			rp.Figure(cp.name+": restart → retry answered", "%s", latencies(c.toRetry))
		}
	}
	rp.Figure("orders", "%d", orders)
	rp.Figure("jobs by kind/state at the end", "%s", states)
	rp.Figure("violations", "%d", fail.n())
	if fail.n() > 0 {
		t.Errorf("%d violations:%s", fail.n(), fail.String())
	}
}

// crashCheckDB checks a lane's database after its last graceful stop:
// every order of refs is there, settled with its 4 items and emailed once,
// and no job is pending. It returns the number of orders and the jobs by
// kind/state.
func crashCheckDB(t *testing.T, dir, url string, refs map[string]bool, fail *failures) (int, counter) {
	t.Helper()
	orders, err := refOrdersDB(dir, url)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range orders {
		if !refs[o.Ref] {
			fail.add("order %s: in a lane that did not place it", o.Ref)
		}
		delete(refs, o.Ref)
		if o.Emails != 1 || o.State == "placed" || len(o.Items) != 4 {
			fail.add("order %s at the end: %s, %d items, %d emails", o.Ref, o.State, len(o.Items), o.Emails)
		}
	}
	for ref := range refs {
		fail.add("order %s: lost", ref)
	}
	jobs, err := crashJobsDB(dir, url)
	if err != nil {
		t.Fatal(err)
	}
	states := counter{}
	copies := map[int64]crashJob{} // by the ID of the job each replaces
	for _, j := range jobs {
		if j.Replaces != 0 {
			copies[j.Replaces] = j
		}
	}
	for _, j := range jobs {
		st := j.State
		if j.Replaces != 0 {
			st += " (a copy)"
		}
		states[j.Kind+"/"+st]++
		switch {
		case j.State == "completed":
		case j.State == "cancelled" || (j.State == "running" && j.CancelAttempted):
			if c, ok := copies[j.ID]; !ok || c.Ref != j.Ref {
				fail.add("job %d (%s %s): %s at the end, and no copy of it", j.ID, j.Kind, j.Ref, j.State)
			}
		default:
			fail.add("job %d (%s %s): %s at the end", j.ID, j.Kind, j.Ref, j.State)
		}
	}
	return len(orders), states
}

// restartToEmail bounds the time from the restart to the email of an order
// that committed before the kill: the restarted process hands back the jobs
// its dead predecessor left running, instead of waiting for River's rescuer
// (10 to 40 s).
const restartToEmail = 10 * time.Second

// crashJob is a job of River's table as the crash matrix checks it.
type crashJob struct {
	ID              int64
	Kind, State     string
	Ref             string // the order of an email job
	Replaces        int64  // the job this one is a copy of (0: none)
	CancelAttempted bool   // a cancellation was requested
}

// crashJobsDB reads River's jobs with what their metadata says of a hand
// back: the job a copy replaces, and the cancellation of the original.
func crashJobsDB(dir, url string) ([]crashJob, error) {
	db, err := openRefDB(dir, url)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	cols := "args, metadata"
	if url == "" {
		cols = "json(args), json(metadata)" // River's SQLite driver stores JSONB
	}
	rows, err := db.Query(`SELECT id, kind, state, ` + cols + ` FROM river_job`)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	defer rows.Close()
	var out []crashJob
	for rows.Next() {
		var (
			j          crashJob
			args, meta []byte
			a          struct{ Ref string }
			m          struct {
				Replaces          int64     `json:"replaces"`
				CancelAttemptedAt time.Time `json:"cancel_attempted_at"`
			}
		)
		if err := rows.Scan(&j.ID, &j.Kind, &j.State, &args, &meta); err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
		if err := json.Unmarshal(args, &a); err != nil {
			return nil, fmt.Errorf("job %d: args: %w", j.ID, err)
		}
		if err := json.Unmarshal(meta, &m); err != nil {
			return nil, fmt.Errorf("job %d: metadata: %w", j.ID, err)
		}
		j.Ref, j.Replaces, j.CancelAttempted = a.Ref, m.Replaces, !m.CancelAttemptedAt.IsZero()
		out = append(out, j)
	}
	return out, rows.Err()
}

// keyLease is the lease of an idempotency key (idempotency.WithLease's
// default): after a crash the key is free again this long after its run's
// last renewal.
const keyLease = 10 * time.Second

// crashResult is what one trial saw.
type crashResult struct {
	outcome string        // what the first request and the retry got
	toDone  time.Duration // from the restart to the email sent
	toRetry time.Duration // from the restart to the retry's answer (0: no retry)
	fails   []string
}

// crashTrial places one order, kills the server at cp, restarts it and
// checks the order.
func crashTrial(t *testing.T, bin string, args []string, cp crashPoint, ref string, rng *rand.Rand) crashResult {
	t.Helper()
	var res crashResult
	var env []string
	if cp.fault != "" {
		env = []string{"LIFELINE_FAULT=" + cp.fault}
	}
	p := startProcEnv(t, env, "lifeline", bin, args...)
	key := "key-" + ref
	target := fmt.Sprintf("/demo/order?work=%v&email=%v&ref=%s", cp.work, cp.email, ref)
	client := &http.Client{Timeout: 30 * time.Second}
	answered := make(chan crashAnswer, 1)
	go func() { answered <- postOrder(client, p.base+target, key) }()
	kill := func(after time.Duration) {
		time.Sleep(after) // a random instant of the phase: the point of the matrix, not a synchronisation
		_ = p.cmd.Process.Kill()
	}
	var first crashAnswer
	switch {
	case cp.fault != "":
		first = <-answered
	case cp.fromAnswer:
		first = <-answered
		kill(cp.lo + time.Duration(rng.Int64N(int64(cp.hi-cp.lo))))
	default:
		kill(cp.lo + time.Duration(rng.Int64N(int64(cp.hi-cp.lo))))
		first = <-answered
	}
	if code := p.wait(t, 30*time.Second); code == 0 {
		res.fails = append(res.fails, "the process exited cleanly: it was not killed")
	}
	restart := time.Now()
	p = startProc(t, "lifeline", bin, args...)
	res.outcome = "first " + first.String()
	if first.code != http.StatusCreated {
		retry := postOrder(client, p.base+target, key)
		res.toRetry = time.Since(restart)
		if res.toRetry > keyLease+10*time.Second {
			res.fails = append(res.fails, fmt.Sprintf("the retry was answered %v after the restart: the key stayed blocked past its lease (%v)", res.toRetry, keyLease))
		}
		res.outcome += ", retry " + retry.String()
		switch {
		case retry.code == http.StatusCreated && retry.Order.Ref == ref:
		case retry.code == http.StatusConflict && retry.Order.Ref == ref && len(retry.Order.Items) == 4:
		default:
			res.fails = append(res.fails, "retry: "+retry.String())
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	var o refOrder
	for {
		var v struct{ Orders []refOrder }
		getJSON(t, p.base+"/demo/orders?limit=1000", &v)
		for _, x := range v.Orders {
			if x.Ref == ref {
				o = x
			}
		}
		if o.Emails > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	res.toDone = time.Since(restart)
	if cp.name != "before commit" && res.toDone > restartToEmail {
		res.fails = append(res.fails, fmt.Sprintf("the email was sent %v after the restart, want within %v", res.toDone, restartToEmail))
	}
	switch {
	case o.Ref == "":
		res.fails = append(res.fails, "the order is not in the database")
	case o.Emails != 1:
		res.fails = append(res.fails, fmt.Sprintf("%d emails 90s after the restart, want 1", o.Emails))
	case len(o.Items) != 4 || (o.State != "confirmed" && o.State != "unconfirmed"):
		res.fails = append(res.fails, fmt.Sprintf("state %s (%s), %d items", o.State, o.Reason, len(o.Items)))
	}
	if code := p.stop(t, 30*time.Second); code != 0 {
		res.fails = append(res.fails, fmt.Sprintf("exit status %d after SIGTERM\n%s", code, tail(p.stderr.String(), 2000)))
	}
	return res
}

// crashAnswer is what a client got for POST /demo/order.
type crashAnswer struct {
	code  int      // 0: no answer
	err   string   // why there was none
	Order refOrder `json:"order"`
}

func (a crashAnswer) String() string {
	if a.code == 0 {
		return "no answer"
	}
	return fmt.Sprint(a.code)
}

// postOrder sends the order with key and reads the answer.
func postOrder(c *http.Client, url, key string) crashAnswer {
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		return crashAnswer{err: err.Error()}
	}
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.Do(req)
	if err != nil {
		return crashAnswer{err: err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return crashAnswer{err: err.Error()}
	}
	a := crashAnswer{code: resp.StatusCode}
	_ = json.NewDecoder(bytes.NewReader(body)).Decode(&a)
	return a
}
