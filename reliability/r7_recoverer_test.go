package reliability

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/server"
)

// swallowAll is a recover middleware that swallows every panic and answers
// 500 with a body, the worst a recoverer inside the run can do (gorilla's
// RecoveryHandler does the like). The real recoverers of chi, gin, echo and
// gorilla are tested in the frameworks module; this imitation only needs
// to swallow what they would pass on.
func swallowAll(seen, terminations *atomic.Int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			seen.Add(1)
			if err, ok := v.(error); ok && errors.Is(err, lifeline.ErrTerminated) {
				terminations.Add(1)
			}
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "recovered: the request failed\n")
		}()
		next.ServeHTTP(w, r)
	})
}

// TestR7RecovererInsideRun: runs that hit their time limit behind a recover
// middleware that swallows the termination and answers 500 never give their
// client a complete-looking answer (issue 13 §3): with the partial output
// still buffered the client gets the timeout response (503), with it
// already flushed a cut response; no record says the run panicked.
func TestR7RecovererInsideRun(t *testing.T) {
	n := pick(20, 200)
	const limit = 300 * time.Millisecond
	rp := newReport(t, "R7-recoverer", "R7 a recover middleware inside the run")
	rp.Load("%d requests at once for each route × protocol (HTTP/1.1, h2c): /buffered writes \"partial \" into the run's 4 KiB output buffer, /flushed writes it and flushes it; both then loop on Run.Check; an in-process pool behind server.New with h2c, time limit %v", n, limit)
	rp.Fault("between the pool and the handler, a recover middleware that swallows every panic, the termination included, and answers 500 with a body (an imitation: the real chi, gin, echo and gorilla recoverers are tested in frameworks/)")
	rp.Check("/buffered: every client gets 503 (the timeout response), never the recoverer's 500 nor a 200")
	rp.Check("/flushed: every client gets a cut response (HTTP/1.1: the body ends without its last chunk; h2: RST_STREAM), never a clean end")
	rp.Check("every run's Record has the Timeout bit, not Panicked, not runaway; Pool.Stats counts no panic; the recoverer saw the termination each time, as lifeline.ErrTerminated")
	rp.Check("after the server stopped: no goroutine left")
	baseline := goroutines()
	var seen, terminations atomic.Int64
	looping := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		_, _ = io.WriteString(w, "partial ")
		if r.URL.Path == "/flushed" {
			_ = http.NewResponseController(w).Flush()
		}
		for {
			rn.Check()
			time.Sleep(time.Millisecond)
		}
	})
	s := servePool(t, servedOptions{
		pool:   []lifeline.Option{lifeline.WithTimeLimit(limit), lifeline.WithRecentRuns(8 * n)},
		server: []server.Option{server.WithH2C(true)},
		handler: func(pool *lifeline.Pool) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("GET /buffered", pool.Middleware(lifeline.WithRoute("buffered"), lifeline.WithOutputBuffering(4096))(swallowAll(&seen, &terminations, looping)))
			mux.Handle("GET /flushed", pool.Middleware(lifeline.WithRoute("flushed"))(swallowAll(&seen, &terminations, looping)))
			return mux
		},
	})
	clients := map[string]*http.Client{}
	for _, proto := range []string{"h1", "h2c"} {
		var p http.Protocols
		if proto == "h1" {
			p.SetHTTP1(true)
		} else {
			p.SetUnencryptedHTTP2(true)
		}
		tr := &http.Transport{Protocols: &p, MaxConnsPerHost: 0, MaxIdleConnsPerHost: n}
		defer tr.CloseIdleConnections()
		clients[proto] = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	var (
		mu       sync.Mutex
		outcomes = counter{}
		fail     failures
		wg       sync.WaitGroup
		times    []time.Duration
	)
	start := time.Now()
	for _, route := range []string{"buffered", "flushed"} {
		for proto, client := range clients {
			for range n {
				wg.Go(func() {
					begin := time.Now()
					resp, err := client.Get("http://" + s.addr + "/" + route)
					var body []byte
					if err == nil {
						body, err = io.ReadAll(resp.Body)
						resp.Body.Close()
					}
					d := time.Since(begin)
					var got string
					switch {
					case err != nil && resp == nil:
						got = "no answer: " + err.Error()
					case err != nil:
						got = fmt.Sprintf("%d cut", resp.StatusCode)
					default:
						got = fmt.Sprintf("%d complete", resp.StatusCode)
					}
					mu.Lock()
					defer mu.Unlock()
					times = append(times, d)
					outcomes[route+" "+proto+": "+got]++
					want := "503 complete"
					if route == "flushed" {
						want = "200 cut"
					}
					if got != want {
						fail.add("%s over %s: %s (body %.60q), want %s", route, proto, got, body, want)
					}
				})
			}
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	if !waitFor(10*time.Second, func() bool { return len(s.pool.Active()) == 0 }) {
		fail.add("after 10s, %d runs still active", len(s.pool.Active()))
	}
	recs := s.pool.Recent()
	records := counter{}
	for _, rec := range recs {
		records[fmt.Sprintf("%s: %v %s, code %d", rec.Route, rec.Status, rec.Cause, rec.Code)]++
		if rec.Status&lifeline.Timeout == 0 || rec.Panicked || rec.Runaway {
			fail.add("run %d (%s): status %v, cause %q, panicked %v, runaway %v; want the Timeout bit, no panic, no runaway", rec.ID, rec.Route, rec.Status, rec.Cause, rec.Panicked, rec.Runaway)
		}
	}
	total := 4 * n
	if len(recs) != total {
		fail.add("%d records, want %d", len(recs), total)
	}
	st := s.pool.Stats()
	if st.Panics != 0 || st.Runaway != 0 || st.TimeLimitHits != uint64(total) {
		fail.add("Pool.Stats: panics %d, runaway %d, time-limit hits %d; want 0, 0, %d", st.Panics, st.Runaway, st.TimeLimitHits, total)
	}
	if seen.Load() != int64(total) || terminations.Load() != int64(total) {
		fail.add("the recoverer recovered %d panics, %d of them ErrTerminated; want %d terminations", seen.Load(), terminations.Load(), total)
	}
	if err := s.stop(); err != nil {
		fail.add("drain: %v", err)
	}
	for _, c := range clients {
		c.CloseIdleConnections()
	}
	completeLooking := 0
	for k, v := range outcomes {
		if strings.HasSuffix(k, "200 complete") || strings.HasSuffix(k, "500 complete") {
			completeLooking += v
		}
	}
	rp.Figure("requests", "%d in %v, answered after %s", total, elapsed.Round(time.Millisecond), latencies(times))
	rp.Figure("what the clients got", "%v", outcomes)
	rp.Figure("complete-looking 200 or 500 answers", "%d", completeLooking)
	rp.Figure("records", "%v", records)
	rp.Figure("records with Panicked; Pool.Stats panics, runaway", "%d; %d, %d", countPanicked(recs), st.Panics, st.Runaway)
	rp.Figure("panics the recoverer swallowed (of them lifeline.ErrTerminated)", "%d (%d)", seen.Load(), terminations.Load())
	if left, stacks := settleGoroutines(baseline, 10*time.Second); left > 0 {
		fail.add("%d goroutines left after the server stopped (baseline %d):\n%s", left, baseline, stacks)
		rp.Figure("goroutines left after the server stopped", "%d", left)
	} else {
		rp.Figure("goroutines left after the server stopped", "0 (baseline %d)", baseline)
	}
	if logs := s.logs.String(); logs != "" {
		t.Logf("server log:\n%s", tail(logs, 4000))
	}
	rp.Figure("violations", "%d", fail.n())
	if fail.n() > 0 {
		t.Errorf("%d violations:%s", fail.n(), fail.String())
	}
}

func countPanicked(recs []lifeline.Record) int {
	n := 0
	for _, rec := range recs {
		if rec.Panicked {
			n++
		}
	}
	return n
}
