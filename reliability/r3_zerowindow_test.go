package reliability

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/h2raw"
	"github.com/lifeline-go/lifeline/server"
)

// TestR3ZeroWindowH2: an HTTP/2 client that opens its streams with
// SETTINGS_INITIAL_WINDOW_SIZE=0, never sends WINDOW_UPDATE and answers
// PINGs (alive, taking nothing) cannot keep a run past its time limit plus
// grace, nor, without a time limit, past the stall bound (issue 13 §2, §1).
// Each of its runs' writes blocks on the stream's window; the engine wakes
// it, resets the stream and leaves nothing in the pool.
func TestR3ZeroWindowH2(t *testing.T) {
	const conns, streams = 2, 250 // net/http's default limit of concurrent streams per connection
	tests := []struct {
		name, title string
		limit       time.Duration // 0: unlimited
		grace       time.Duration
		stall       time.Duration
		bound       time.Duration // every run must have ended this long after it began
		check       func(rec lifeline.Record) bool
		want        string
	}{
		{name: "time-limit", title: "R3 zero-window HTTP/2 client, time limit", limit: time.Second, grace: time.Second, stall: 60 * time.Second,
			bound: 2 * time.Second, check: func(rec lifeline.Record) bool { return rec.Status&lifeline.Timeout != 0 && !rec.Runaway },
			want: "the Timeout bit, not runaway"},
		{name: "stall", title: "R3 zero-window HTTP/2 client, stall bound, no time limit", limit: 0, grace: time.Second, stall: 500 * time.Millisecond,
			bound: 1500 * time.Millisecond, check: func(rec lifeline.Record) bool {
				return rec.Status == lifeline.Aborted && rec.Cause == lifeline.CauseStalled && !rec.Runaway
			},
			want: "Aborted with cause stalled, not runaway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := newReport(t, "R3-zero-window-"+tt.name, tt.title)
			limit := "unlimited (WithTimeLimit(0))"
			if tt.limit > 0 {
				limit = tt.limit.String()
			}
			rp.Load("%d h2c connections × %d streams, each GET of a handler that writes 64 KiB chunks forever, in an in-process pool behind server.New with h2c; time limit %s, grace period %v, stall bound %v", conns, streams, limit, tt.grace, tt.stall)
			rp.Fault("the client (internal/h2raw) announces SETTINGS_INITIAL_WINDOW_SIZE=0, never sends WINDOW_UPDATE, and acknowledges SETTINGS and PINGs: alive, taking nothing")
			rp.Check("every run ends with %s, within %v of its start (what the engine promises: time limit + grace, or the stall bound, plus the overtime of a woken write)", tt.want, tt.bound)
			rp.Check("Pool.Active() empty, Pool.Stats counts no runaway; the client saw a RST_STREAM for every stream, and no DATA and no END_STREAM (a cut answer, never a complete one)")
			rp.Check("after the server stopped: no goroutine left")
			baseline := goroutines()
			popts := []lifeline.Option{lifeline.WithTimeLimit(tt.limit), lifeline.WithGracePeriod(tt.grace),
				lifeline.WithStallTimeout(tt.stall), lifeline.WithRecentRuns(2 * conns * streams)}
			s := servePool(t, servedOptions{
				pool:   popts,
				server: []server.Option{server.WithH2C(true)},
				handler: func(pool *lifeline.Pool) http.Handler {
					return pool.Middleware(lifeline.WithRoute("forever"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						chunk := []byte(strings.Repeat("x", 64<<10))
						for {
							_, _ = w.Write(chunk) // terminated at the end of the run
						}
					}))
				},
			})
			var cs []*h2raw.Conn
			start := time.Now()
			for range conns {
				c, err := net.Dial("tcp", s.addr)
				if err != nil {
					t.Fatal(err)
				}
				hc, err := h2raw.Dial(c, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer hc.Close()
				cs = append(cs, hc)
				for range streams {
					if err := hc.Get(s.addr, "/"); err != nil {
						t.Fatal(err)
					}
				}
			}
			var fail failures
			if !waitFor(10*time.Second, func() bool { return s.pool.Stats().Accepted == conns*streams }) {
				fail.add("accepted %d runs in 10s, want %d", s.pool.Stats().Accepted, conns*streams)
			}
			started := time.Since(start)
			if !waitFor(30*time.Second, func() bool { return len(s.pool.Active()) == 0 }) {
				fail.add("after 30s, %d runs still active", len(s.pool.Active()))
			}
			cleared := time.Since(start)
			// The client's view: every stream reset, nothing else.
			var counts []h2raw.Counts
			for i, hc := range cs {
				if !waitFor(5*time.Second, func() bool { return hc.Counts().Resets >= streams }) {
					fail.add("conn %d: the client saw %+v, want %d RST_STREAM", i, hc.Counts(), streams)
				}
				c := hc.Counts()
				counts = append(counts, c)
				if c.Data != 0 || c.EndStreams != 0 {
					fail.add("conn %d: the client saw %+v, want no DATA and no END_STREAM", i, c)
				}
			}
			recs := s.pool.Recent()
			var durations []time.Duration
			outcomes := counter{}
			late := 0
			for _, rec := range recs {
				durations = append(durations, rec.Duration)
				outcomes[rec.Status.String()+" "+rec.Cause.String()]++
				if !tt.check(rec) {
					fail.add("run %d: status %v, cause %q, runaway %v after %v; want %s", rec.ID, rec.Status, rec.Cause, rec.Runaway, rec.Duration.Round(time.Millisecond), tt.want)
				}
				if rec.Duration > tt.bound {
					late++
				}
			}
			if late > 0 {
				fail.add("%d runs lasted longer than %v", late, tt.bound)
			}
			if len(recs) != conns*streams {
				fail.add("%d records, want %d", len(recs), conns*streams)
			}
			st := s.pool.Stats()
			if st.Runaway != 0 || st.Panics != 0 {
				fail.add("Pool.Stats: runaway %d, panics %d; want 0", st.Runaway, st.Panics)
			}
			if err := s.stop(); err != nil {
				fail.add("drain: %v", err)
			}
			for _, hc := range cs {
				hc.Close()
			}
			rp.Figure("runs started", "%d in %v", st.Accepted, started.Round(time.Millisecond))
			rp.Figure("time from the first request until no run was left", "%v", cleared.Round(time.Millisecond))
			rp.Figure("run durations (Record.Duration)", "%s", latencies(durations))
			rp.Figure("records by status and cause", "%v", outcomes)
			rp.Figure("Pool.Stats", "time-limit hits %d, runaway %d, aborts %v, active now %d", st.TimeLimitHits, st.Runaway, st.Aborts, len(s.pool.Active()))
			rp.Figure("what the client saw, per connection", "%+v", counts)
			if left, stacks := settleGoroutines(baseline, 10*time.Second); left > 0 {
				fail.add("%d goroutines left after the server stopped (baseline %d):\n%s", left, baseline, stacks)
				rp.Figure("goroutines left after the server stopped", "%d", left)
			} else {
				rp.Figure("goroutines left after the server stopped", "0 (baseline %d)", baseline)
			}
			if logs := s.logs.String(); containsAny(logs, "panic", "runaway") {
				fail.add("server log:\n%s", tail(logs, 4000))
			}
			rp.Figure("violations", "%d", fail.n())
			if fail.n() > 0 {
				t.Errorf("%d violations:%s", fail.n(), fail.String())
			}
		})
	}
}
