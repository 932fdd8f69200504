package lifelinetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/syncbuf"
)

// DefaultWait is how long a [Pool] waits, by default, for a record or for a
// request to reach its server before it fails the test: longer than a run
// with lifeline's default limits can last (a 30 s time limit, a 2 s grace
// period, a 2 s shutdown budget), so that a wait ends by itself only when
// something is wrong. Inside a testing/synctest bubble the time is virtual
// and the wait costs nothing.
const DefaultWait = time.Minute

// Pool is a [lifeline.Pool] for one test: it keeps the final [lifeline.Record]
// of every run that ended, in order, so that a test can wait for a run to
// end without polling; it collects the pool's log and prints it when the
// test fails; and it shuts the pool down, waiting for every run, when the
// test ends. Create it with [NewPool]; pass its embedded *lifeline.Pool to
// the code under test, as the application's main would.
//
// A Pool made inside a testing/synctest bubble belongs to that bubble: its
// waits are durably blocking there, so virtual time advances while a test
// waits for a run that sleeps or hits its time limit.
//
// Its methods may be called from any goroutine, except those that fail the
// test ([Pool.NextRecord], [Pool.WaitRun], [Response.Record],
// [Result.Record]), which must be called from the test's goroutine, as
// [testing.T.FailNow] requires.
type Pool struct {
	*lifeline.Pool

	// Wait bounds every wait of this Pool and of its servers and responses:
	// past it the test fails with [ErrWaitTimeout]. [NewPool] sets it to
	// [DefaultWait]; change it before the test starts requests, if at all.
	Wait time.Duration

	tb  testing.TB
	log *syncbuf.Buffer

	mu      sync.Mutex // guards the fields below
	records []lifeline.Record
	next    int           // index in records of the record NextRecord returns next
	changed chan struct{} // closed, and replaced, when records grows
	served  bool          // NewServer was called
}

// NewPool returns a Pool with opts, for the duration of tb. Its logger
// collects what the pool logs (see [Pool.Log]) unless opts set one with
// [lifeline.WithLogger]. It adds its own [lifeline.WithRunEnded] function
// after those in opts, so theirs see each record before the kit's waiters
// do. An invalid option fails tb at once, with the error of
// [lifeline.NewPool].
//
// When tb ends, NewPool's cleanup shuts the pool down, waiting up to
// [Pool.Wait] for every run, including runs still working after
// [lifeline.Run.Finish]; a run still alive then fails tb and is cancelled.
func NewPool(tb testing.TB, opts ...lifeline.Option) *Pool {
	tb.Helper()
	p := &Pool{Wait: DefaultWait, tb: tb, log: new(syncbuf.Buffer), changed: make(chan struct{})}
	all := make([]lifeline.Option, 0, len(opts)+2)
	all = append(all, lifeline.WithLogger(slog.New(slog.NewTextHandler(p.log, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	all = append(all, opts...)
	all = append(all, lifeline.WithRunEnded(p.ended))
	pool, err := lifeline.NewPool(all...)
	if err != nil {
		tb.Fatalf("lifelinetest.NewPool: %v", err)
	}
	p.Pool = pool
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), p.Wait)
		defer cancel()
		if err := pool.Shutdown(ctx); err != nil {
			tb.Errorf("lifelinetest: pool shutdown: %v; runs still active: %+v", err, pool.Active())
		}
		if tb.Failed() {
			if s := p.log.String(); s != "" {
				tb.Logf("lifeline log:\n%s", s)
			}
		}
	})
	return p
}

// ended is the pool's WithRunEnded function: it keeps rec and wakes every
// waiter.
func (p *Pool) ended(rec lifeline.Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records = append(p.records, rec)
	close(p.changed)
	p.changed = make(chan struct{})
}

// Records returns the final records of every run that has ended so far, in
// the order they ended.
func (p *Pool) Records() []lifeline.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]lifeline.Record(nil), p.records...)
}

// Log returns what the pool has logged so far (panics, runaways, misuse),
// unless a logger was given to [NewPool].
func (p *Pool) Log() string { return p.log.String() }

// NextRecord waits for the next run to end and returns its final record:
// the first record NextRecord has not returned yet, in the order the runs
// ended. It fails the test with [ErrWaitTimeout] when no run ends within
// [Pool.Wait]. Call it from the test's goroutine.
func (p *Pool) NextRecord() lifeline.Record {
	p.tb.Helper()
	rec, err := p.await(func(recs []lifeline.Record, next int) (int, bool) {
		return next, next < len(recs)
	}, true)
	if err != nil {
		p.tb.Fatalf("lifelinetest: NextRecord: %v", err)
	}
	return rec
}

// WaitRun waits for the run with the given ID (from [lifeline.Outcome.Run]
// or [lifeline.Run.ID]) to end and returns its final record. It fails the
// test with [ErrNoRun] for ID 0 and with [ErrWaitTimeout] when the run does
// not end within [Pool.Wait]. Call it from the test's goroutine.
func (p *Pool) WaitRun(id uint64) lifeline.Record {
	p.tb.Helper()
	rec, err := p.waitRun(id)
	if err != nil {
		p.tb.Fatalf("lifelinetest: WaitRun(%d): %v", id, err)
	}
	return rec
}

func (p *Pool) waitRun(id uint64) (lifeline.Record, error) {
	if id == 0 {
		return lifeline.Record{}, ErrNoRun
	}
	return p.await(func(recs []lifeline.Record, _ int) (int, bool) {
		for i := len(recs) - 1; i >= 0; i-- {
			if recs[i].ID == id {
				return i, true
			}
		}
		return 0, false
	}, false)
}

// await waits until find reports a record, bounded by p.Wait. With advance,
// the record found becomes the last one NextRecord returned.
func (p *Pool) await(find func(recs []lifeline.Record, next int) (int, bool), advance bool) (lifeline.Record, error) {
	t := time.NewTimer(p.Wait)
	defer t.Stop()
	for {
		p.mu.Lock()
		i, ok := find(p.records, p.next)
		if ok {
			rec := p.records[i]
			if advance {
				p.next = i + 1
			}
			p.mu.Unlock()
			return rec, nil
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-t.C:
			return lifeline.Record{}, fmt.Errorf("no such run ended within %v (active: %d): %w", p.Wait, len(p.Active()), ErrWaitTimeout)
		}
	}
}

// WaitIdle waits until no run of the pool is active ([lifeline.Pool.Active]
// is empty): every run ended, including work after [lifeline.Run.Finish]
// and shutdown functions. It fails the test with [ErrWaitTimeout] when runs
// are still active after d, the bound the test claims for them (use
// [Pool.Wait] for the pool's own bound). Call it from the test's goroutine.
func (p *Pool) WaitIdle(d time.Duration) {
	p.tb.Helper()
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		// The kit's WithRunEnded function runs after its run left the
		// active runs, so a run that ends after the check below closes
		// changed: no end goes unnoticed, and no polling is needed.
		p.mu.Lock()
		changed := p.changed
		p.mu.Unlock()
		active := p.Active()
		if len(active) == 0 {
			return
		}
		select {
		case <-changed:
		case <-t.C:
			active = p.Active()
			p.tb.Fatalf("lifelinetest: WaitIdle: %v", fmt.Errorf("after %v, %d runs still active: %+v: %w", d, len(active), active, ErrWaitTimeout))
		}
	}
}

// Response is what a handler answered through an [httptest.ResponseRecorder]
// ([Pool.Do]), and how the pool saw the response end.
type Response struct {
	// ResponseRecorder holds what reached the recorder: code, header and
	// body. A response the pool cut short holds what had been sent when it
	// was cut; a real client would have seen it incomplete (Outcome.Cut).
	*httptest.ResponseRecorder

	// Outcome is how the pool saw the response end: the run's ID, the code
	// and bytes sent, the connection status and cause, whether it was sent
	// by Finish (the run goes on) and whether it was cut.
	Outcome lifeline.Outcome

	p *Pool
}

// Record waits for the response's run to end and returns its final record,
// as [Pool.WaitRun] does. Call it from the test's goroutine.
func (r *Response) Record() lifeline.Record {
	r.p.tb.Helper()
	return r.p.WaitRun(r.Outcome.Run)
}

// Do serves req with h into a new [httptest.ResponseRecorder], as net/http
// would serve it, and returns the response once h's ServeHTTP returned: for
// a run that called [lifeline.Run.Finish], as soon as the early answer was
// handed over, while the run goes on (use [Response.Record] to wait for its
// end). h is served behind p.Middleware(): a plain handler becomes a run of
// p, and an application's router already wired to p keeps its own runs
// (nested, the pool's middleware adjusts the run that exists).
//
// When the pool cuts a response short (a run terminated or panicking after
// part of its answer was sent), its ServeHTTP panics with
// [http.ErrAbortHandler], as net/http expects; Do recovers that panic and
// reports it as Outcome.Cut, so that it does not end the test. Any other
// panic passes through.
//
// Do needs no network, so it works inside a testing/synctest bubble, where
// time limits and sleeps take no real time. There is no socket either: a
// client abort cannot happen (use [Pool.NewServer] for those). Any goroutine
// may call Do.
func (p *Pool) Do(h http.Handler, req *http.Request) (resp *Response) {
	req, out := p.WithOutcome(req)
	resp = &Response{ResponseRecorder: httptest.NewRecorder(), p: p}
	defer func() {
		resp.Outcome = *out
		if v := recover(); v != nil {
			err, _ := v.(error)
			if !errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			resp.Outcome.Cut = true
		}
	}()
	p.Middleware()(h).ServeHTTP(resp.ResponseRecorder, req)
	return resp
}
