package lifeline_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/cstest"
)

// eventLog collects a pool's events (WithRunEvent) and final records
// (WithRunEnded), and lets a handler wait for an event of its own run.
type eventLog struct {
	mu    sync.Mutex
	evs   []lifeline.Event
	recs  []lifeline.Record
	seen  map[lifeline.EventKind]chan struct{} // closed at the first event of a kind
	ended chan lifeline.Record
}

func newEventLog() *eventLog {
	return &eventLog{seen: make(map[lifeline.EventKind]chan struct{}), ended: make(chan lifeline.Record, 64)}
}

// options returns the pool options that feed the log.
func (l *eventLog) options() []lifeline.Option {
	return []lifeline.Option{lifeline.WithRunEvent(l.event), lifeline.WithRunEnded(l.runEnded)}
}

func (l *eventLog) event(ev lifeline.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, ev)
	if c := l.chanLocked(ev.Kind); c != closedChan {
		close(c)
		l.seen[ev.Kind] = closedChan
	}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (l *eventLog) chanLocked(k lifeline.EventKind) chan struct{} {
	c, ok := l.seen[k]
	if !ok {
		c = make(chan struct{})
		l.seen[k] = c
	}
	return c
}

func (l *eventLog) runEnded(rec lifeline.Record) {
	l.mu.Lock()
	l.recs = append(l.recs, rec)
	l.mu.Unlock()
	l.ended <- rec
}

// reported returns a channel closed when an event of kind k was reported.
func (l *eventLog) reported(k lifeline.EventKind) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.chanLocked(k)
}

// of returns the events of run id, ordered by their time.
func (l *eventLog) of(id uint64) []lifeline.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []lifeline.Event
	for _, ev := range l.evs {
		if ev.RunID == id {
			out = append(out, ev)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

func kindsOf(evs []lifeline.Event) []lifeline.EventKind {
	out := make([]lifeline.EventKind, len(evs))
	for i, ev := range evs {
		out[i] = ev.Kind
	}
	return out
}

// check waits for the run's end, shuts the pool down (which waits for the
// event functions) and checks that the run's events, in time order, are
// want, each stamped within the run's life (the delivery may come after).
// It returns the events and the record.
func (l *eventLog) check(t *testing.T, p *lifeline.Pool, want ...lifeline.EventKind) ([]lifeline.Event, lifeline.Record) {
	t.Helper()
	var rec lifeline.Record
	select {
	case rec = <-l.ended:
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not end")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	evs := l.of(rec.ID)
	if got := kindsOf(evs); !slices.Equal(got, want) {
		t.Fatalf("events = %v, want %v (record %+v)", got, want, rec)
	}
	end := rec.Start.Add(rec.Duration)
	for _, ev := range evs {
		if ev.At.Before(rec.Start) || ev.At.After(end) && ev.Kind != lifeline.EventDelivery {
			t.Errorf("%v at %v, outside the run (%v to %v)", ev.Kind, ev.At, rec.Start, end)
		}
	}
	return evs, rec
}

// await waits for an event of kind k, or fails the test from the handler's
// goroutine with t.Error.
func (l *eventLog) await(t *testing.T, k lifeline.EventKind) bool {
	select {
	case <-l.reported(k):
		return true
	case <-time.After(10 * time.Second):
		t.Errorf("no %v event while the run went on", k)
		return false
	}
}

// TestEventsFinishThenWork: Finish is reported when it has sent the
// response, while the run goes on; the delivery verdict, from the socket,
// and the shutdown functions follow, over HTTP/1, HTTP/2 and h2c.
func TestEventsFinishThenWork(t *testing.T) {
	skipUnlessLinux(t)
	cstest.Run(t, func(t *testing.T, m cstest.Mode) {
		l := newEventLog()
		p := newPool(t, l.options()...)
		h := handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn := mustRun(t, r)
			rn.RegisterShutdown(func(context.Context, *lifeline.Run) {})
			io.WriteString(w, "accepted")
			if err := rn.Finish(); err != nil {
				t.Errorf("Finish: %v", err)
			}
			// The background work sees the event before it ends.
			if !l.await(t, lifeline.EventFinish) {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if d, err := rn.AwaitDelivery(ctx); d != lifeline.Delivered {
				t.Errorf("AwaitDelivery = %v, %v; want delivered", d, err)
			}
		})
		ts := cstest.Start(t, m, p.Middleware()(h), watched(p))
		resp, err := ts.Client.Get(ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		evs, rec := l.check(t, p.Pool, lifeline.EventFinish, lifeline.EventDelivery, lifeline.EventShutdownStart, lifeline.EventShutdownEnd)
		if evs[1].Delivery != lifeline.Delivered {
			t.Errorf("delivery event says %v, want delivered", evs[1].Delivery)
		}
		if at := evs[0].At.Sub(rec.Start); at < rec.FinishedAfter {
			t.Errorf("finish event %v after the start, before Finish was called (%v)", at, rec.FinishedAfter)
		}
	})
}

// TestEventsAbortHTTP1: a client that closes (FIN) or resets (RST) its
// connection while the handler writes nothing is reported at once, with its
// cause, also when the run ignores user aborts and its context is not
// cancelled; then come the shutdown functions.
func TestEventsAbortHTTP1(t *testing.T) {
	for _, tt := range []struct {
		name   string
		reset  bool
		ignore bool
		cause  lifeline.Cause
	}{
		{"fin", false, false, lifeline.CauseClosed},
		{"rst", true, false, lifeline.CauseReset},
		{"fin-ignored", false, true, lifeline.CauseClosed},
		{"rst-ignored", true, true, lifeline.CauseReset},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newEventLog()
			p := newPool(t, append(l.options(), lifeline.WithIgnoreUserAbort(tt.ignore))...)
			started := make(chan struct{})
			ts := cstest.Start(t, cstest.H1, p.Middleware()(abortWaiter(t, l, tt.ignore, started)), p.ConfigureServer)
			c, err := net.Dial("tcp", ts.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			<-started
			if tt.reset {
				_ = c.(*net.TCPConn).SetLinger(0)
			}
			c.Close()
			evs, rec := l.check(t, p.Pool, lifeline.EventAbort, lifeline.EventShutdownStart, lifeline.EventShutdownEnd)
			if evs[0].Cause != tt.cause || rec.IgnoreUserAbort != tt.ignore {
				t.Errorf("abort event cause = %v (ignoring: %v), want %v", evs[0].Cause, rec.IgnoreUserAbort, tt.cause)
			}
		})
	}
}

// abortWaiter is a handler that registers a shutdown function, says it
// started, and waits for the client to leave: for its context when it does
// not ignore user aborts, for the abort event when it does (its context
// stays alive).
func abortWaiter(t *testing.T, l *eventLog, ignore bool, started chan<- struct{}) http.Handler {
	return handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn := mustRun(t, r)
		rn.RegisterShutdown(func(context.Context, *lifeline.Run) {})
		close(started)
		if ignore {
			l.await(t, lifeline.EventAbort)
			if r.Context().Err() != nil {
				t.Errorf("context cancelled under ignore_user_abort: %v", context.Cause(r.Context()))
			}
			return
		}
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
			t.Error("the run's context was not cancelled")
		}
	})
}

// TestEventsAbortHTTP2: a client that resets its HTTP/2 stream is reported,
// with and without ignore_user_abort, over TLS and h2c.
func TestEventsAbortHTTP2(t *testing.T) {
	for _, m := range []cstest.Mode{cstest.H2, cstest.H2C} {
		for _, ignore := range []bool{false, true} {
			t.Run(string(m)+map[bool]string{false: "", true: "-ignored"}[ignore], func(t *testing.T) {
				l := newEventLog()
				p := newPool(t, append(l.options(), lifeline.WithIgnoreUserAbort(ignore))...)
				started := make(chan struct{})
				ts := cstest.Start(t, m, p.Middleware()(abortWaiter(t, l, ignore, started)), p.ConfigureServer)
				ctx, cancel := context.WithCancel(context.Background())
				errc := make(chan error, 1)
				go func() {
					req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL, nil)
					res, err := ts.Client.Do(req)
					if err == nil {
						res.Body.Close()
					}
					errc <- err
				}()
				<-started
				cancel()
				evs, _ := l.check(t, p.Pool, lifeline.EventAbort, lifeline.EventShutdownStart, lifeline.EventShutdownEnd)
				<-errc
				if evs[0].Cause == lifeline.CauseNone {
					t.Error("abort event without a cause")
				}
			})
		}
	}
}

// TestEventsTimeLimitAndRunaway: the time limit is reported when it
// expires, and a run that ignores it is reported runaway at the end of the
// grace period, each at its exact moment (virtual time).
func TestEventsTimeLimitAndRunaway(t *testing.T) {
	for _, tt := range []struct {
		name    string
		runaway bool
		want    []lifeline.EventKind
		at      []time.Duration
	}{
		{"time-limit", false, []lifeline.EventKind{lifeline.EventTimeLimit, lifeline.EventShutdownStart, lifeline.EventShutdownEnd}, []time.Duration{time.Second, time.Second, time.Second}},
		{"runaway", true, []lifeline.EventKind{lifeline.EventTimeLimit, lifeline.EventRunaway, lifeline.EventShutdownStart, lifeline.EventShutdownEnd}, []time.Duration{time.Second, 3 * time.Second, 4 * time.Second, 4 * time.Second}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newEventLog()
				p := newPool(t, append(l.options(), lifeline.WithTimeLimit(time.Second), lifeline.WithGracePeriod(2*time.Second))...)
				h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mustRun(t, r).RegisterShutdown(func(context.Context, *lifeline.Run) {})
					if tt.runaway {
						time.Sleep(4 * time.Second) // ignores its context
						return
					}
					<-r.Context().Done()
				}))
				func() {
					defer func() { _ = recover() }() // a runaway's answer is cut
					h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
				}()
				evs, rec := l.check(t, p.Pool, tt.want...)
				for i, ev := range evs {
					if got := ev.At.Sub(rec.Start); got != tt.at[i] {
						t.Errorf("%v at %v, want %v", ev.Kind, got, tt.at[i])
					}
				}
			})
		})
	}
}

// TestEventsPoolShutdown: a run the pool's Shutdown gives up on is reported
// once, even when Shutdown is called again.
func TestEventsPoolShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newEventLog()
		p, err := lifeline.NewPool(l.options()...)
		if err != nil {
			t.Fatal(err)
		}
		h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}))
		go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		synctest.Wait()
		for range 2 {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := p.Shutdown(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("Shutdown = %v, want context.Canceled", err)
			}
		}
		l.check(t, p, lifeline.EventPoolShutdown)
	})
}

// TestEventsExactlyOnce: many runs at once, each with every kind the run
// side reports, get each of their events exactly once (run with -race).
func TestEventsExactlyOnce(t *testing.T) {
	l := newEventLog()
	p := newPool(t, l.options()...)
	h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn := mustRun(t, r)
		rn.RegisterShutdown(func(_ context.Context, rn *lifeline.Run) {
			rn.RegisterShutdown(func(context.Context, *lifeline.Run) {}) // same pass
		})
		io.WriteString(w, "x")
		rn.Finish()
		rn.Finish() // ErrFinished: no second event
	}))
	const n = 64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil)) })
	}
	wg.Wait()
	for range n - 1 {
		<-l.ended
	}
	_, _ = l.check(t, p.Pool, lifeline.EventFinish, lifeline.EventShutdownStart, lifeline.EventShutdownEnd)
	for _, rec := range l.recs {
		if got := kindsOf(l.of(rec.ID)); !slices.Equal(got, []lifeline.EventKind{lifeline.EventFinish, lifeline.EventShutdownStart, lifeline.EventShutdownEnd}) {
			t.Errorf("run %d: events %v", rec.ID, got)
		}
	}
}

// TestEventsShutdownWaits: Pool.Shutdown returns only after the last event
// function returned, here one still running on the timer's goroutine after
// the run ended, and a panic in one is logged, not fatal.
func TestEventsShutdownWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release, limit := make(chan struct{}), make(chan struct{})
		ended := make(chan struct{})
		p, err := lifeline.NewPool(
			lifeline.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
			lifeline.WithTimeLimit(time.Second),
			lifeline.WithRunEvent(func(lifeline.Event) { panic("boom") }),
			lifeline.WithRunEvent(func(lifeline.Event) {
				close(limit) // the handler returns, the run ends
				<-release
			}),
			lifeline.WithRunEnded(func(lifeline.Record) { close(ended) }),
		)
		if err != nil {
			t.Fatal(err)
		}
		h := p.Middleware()(handlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-limit
		}))
		go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		<-ended // the run ended; the time limit's event function still runs
		done := make(chan error, 1)
		go func() { done <- p.Shutdown(context.Background()) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned (%v) while a WithRunEvent function was running", err)
		default:
		}
		close(release)
		if err := <-done; err != nil {
			t.Errorf("Shutdown = %v", err)
		}
	})
}

// TestWithRunEventInvalid: a nil function is an error from NewPool, and the
// option is the pool's only.
func TestWithRunEventInvalid(t *testing.T) {
	if _, err := lifeline.NewPool(lifeline.WithRunEvent(nil)); !errors.Is(err, lifeline.ErrInvalidOption) {
		t.Errorf("NewPool(WithRunEvent(nil)) = %v, want ErrInvalidOption", err)
	}
	p := newPool(t)
	func() {
		defer func() {
			if v := recover(); v == nil {
				t.Error("Middleware(WithRunEvent(f)) accepted a pool-only option")
			}
		}()
		p.Middleware(lifeline.WithRunEvent(func(lifeline.Event) {}))
	}()
}

// TestEventKindString names every kind.
func TestEventKindString(t *testing.T) {
	for k, want := range map[lifeline.EventKind]string{
		lifeline.EventFinish: "finish", lifeline.EventAbort: "abort", lifeline.EventTimeLimit: "time_limit",
		lifeline.EventRunaway: "runaway", lifeline.EventPoolShutdown: "pool_shutdown",
		lifeline.EventShutdownStart: "shutdown_start", lifeline.EventShutdownEnd: "shutdown_end",
		lifeline.EventDelivery: "delivery", 0: "event(0)",
	} {
		if got := k.String(); got != want {
			t.Errorf("EventKind(%d).String() = %q, want %q", k, got, want)
		}
	}
}
