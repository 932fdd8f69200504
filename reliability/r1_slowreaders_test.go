package reliability

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/cstest"
	"github.com/lifeline-go/lifeline/server"
)

// slowPattern is byte i of a /slow answer.
func slowPattern(i int64) byte { return byte('a' + i%26) }

// TestR1SlowReaders: clients that are alive but read slowly, and pause for
// longer than the dead-peer timeout in the middle of the body, are neither
// silent peers nor stalled (issue 13 §1): every one receives every byte,
// and every run ends Normal. The server's socket buffer is small and so is
// the clients' receive buffer, so that the server's writes really block on
// a zero window, as over a slow network, instead of loopback's megabytes of
// buffer absorbing the whole answer.
func TestR1SlowReaders(t *testing.T) {
	n, size := 5, int64(192<<10)
	pauses := []time.Duration{5 * time.Second}
	if full() {
		n, size = 50, 1<<20
		pauses = []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second}
	}
	const (
		chunk  = 8 << 10
		every  = 100 * time.Millisecond
		sndBuf = 32 << 10
		rcvBuf = 16 << 10
	)
	rp := newReport(t, "R1-slow-readers", "R1 slow readers, in-process pool served by package server")
	rp.Load("%d clients at once, each on its own HTTP/1.1 connection (SO_RCVBUF %d KiB), GET a streamed answer of %d KiB (16 KiB writes, each flushed) from an in-process pool behind server.New (dead-peer timeout %v, the stall bound's default %v, time limit 2m; server SO_SNDBUF %d KiB)",
		n, rcvBuf>>10, size>>10, server.DefaultDeadPeerTimeout, 60*time.Second, sndBuf>>10)
	rp.Fault("each client reads %d KiB every %v (%d KiB/s), and a third of the way into the body stops reading for %v, longer than the dead-peer timeout, while keeping its connection open: its kernel acknowledges with a zero window and answers the server's window probes",
		chunk>>10, every, int64(chunk)*int64(time.Second/every)>>10, pauses)
	rp.Check("every client receives every byte (the exact pattern) and the answer's end (the last chunk)")
	rp.Check("every run's Record is Normal, with no cause, BytesSent the whole answer, not runaway; Pool.Stats counts no abort; the server logs no warning")
	rp.Check("the server's writes did block for about the pause (the scenario exercised the zero window)")
	rp.Check("after the drain: no goroutine left")

	baseline := goroutines()
	var (
		mu      sync.Mutex
		blocked = map[string]time.Duration{} // tag → the longest write + flush of its run
	)
	s := servePool(t, servedOptions{
		pool:   []lifeline.Option{lifeline.WithTimeLimit(2 * time.Minute), lifeline.WithRecentRuns(2 * n)},
		sndBuf: sndBuf,
		handler: func(pool *lifeline.Pool) http.Handler {
			return pool.Middleware(lifeline.WithRoute("slow"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				size, _ := strconv.ParseInt(r.URL.Query().Get("bytes"), 10, 64)
				w.Header().Set("Content-Type", "application/octet-stream")
				rc := http.NewResponseController(w)
				buf := make([]byte, 16<<10)
				var longest time.Duration
				for off := int64(0); off < size; {
					k := min(int64(len(buf)), size-off)
					for i := range k {
						buf[i] = slowPattern(off + i)
					}
					start := time.Now()
					_, _ = w.Write(buf[:k])
					_ = rc.Flush()
					longest = max(longest, time.Since(start))
					off += k
				}
				mu.Lock()
				blocked[r.Header.Get("X-Tag")] = longest
				mu.Unlock()
			}))
		},
	})

	type result struct {
		got      int64
		bad      int64 // offset of the first wrong byte, -1 if none
		err      error
		duration time.Duration
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		pause := pauses[i%len(pauses)]
		wg.Go(func() {
			res := &results[i]
			res.bad = -1
			begin := time.Now()
			defer func() { res.duration = time.Since(begin) }()
			c, err := cstest.DialRecvBuf(s.addr, rcvBuf)
			if err != nil {
				res.err = err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
			if _, err := fmt.Fprintf(c, "GET /slow?bytes=%d HTTP/1.1\r\nHost: x\r\nX-Tag: %d\r\n\r\n", size, i); err != nil {
				res.err = err
				return
			}
			resp, err := http.ReadResponse(bufio.NewReaderSize(c, 4096), nil)
			if err != nil {
				res.err = err
				return
			}
			defer resp.Body.Close()
			buf := make([]byte, chunk)
			paused := false
			for {
				k, err := io.ReadFull(resp.Body, buf)
				for j := range k {
					if res.bad < 0 && buf[j] != slowPattern(res.got+int64(j)) {
						res.bad = res.got + int64(j)
					}
				}
				res.got += int64(k)
				if err == io.EOF || err == io.ErrUnexpectedEOF && res.got == size {
					return
				}
				if err != nil {
					res.err = err
					return
				}
				if !paused && res.got >= size/3 {
					paused = true
					time.Sleep(pause)
				} else {
					time.Sleep(every)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := s.stop(); err != nil {
		t.Errorf("drain: %v", err)
	}

	var fail failures
	var durations, writes []time.Duration
	var total int64
	for i, res := range results {
		total += res.got
		durations = append(durations, res.duration)
		switch {
		case res.err != nil:
			fail.add("client %d: %v after %d of %d bytes (%v)", i, res.err, res.got, size, res.duration.Round(time.Millisecond))
		case res.got != size:
			fail.add("client %d: got %d bytes, want %d", i, res.got, size)
		case res.bad >= 0:
			fail.add("client %d: wrong byte at offset %d", i, res.bad)
		}
	}
	recs := s.pool.Recent()
	cut := 0
	for _, rec := range recs {
		if rec.Status != lifeline.Normal || rec.Cause != lifeline.CauseNone || rec.Runaway || rec.BytesSent != size {
			cut++
			fail.add("run %d: status %v, cause %q, runaway %v, %d bytes sent after %v; want Normal, the whole answer",
				rec.ID, rec.Status, rec.Cause, rec.Runaway, rec.BytesSent, rec.Duration.Round(time.Millisecond))
		}
	}
	if len(recs) != n {
		fail.add("%d records, want %d", len(recs), n)
	}
	st := s.pool.Stats()
	aborts := uint64(0)
	for _, v := range st.Aborts {
		aborts += v
	}
	if aborts != 0 || st.Runaway != 0 || st.ByStatus[0] != uint64(n) {
		fail.add("Pool.Stats: by status %v, aborts %v, runaway %d; want %d normal, nothing else", st.ByStatus, st.Aborts, st.Runaway, n)
	}
	mu.Lock()
	for _, d := range blocked {
		writes = append(writes, d)
	}
	mu.Unlock()
	minPause := pauses[0]
	for _, d := range writes {
		if d < minPause/2 {
			fail.add("a run's longest write took %v: the pause of %v did not block the server's writes (the buffers absorbed it), so the scenario tested nothing", d, minPause)
			break
		}
	}
	if logs := s.logs.String(); logs != "" {
		fail.add("server log:\n%s", tail(logs, 4000))
	}
	rp.Figure("clients, bytes each", "%d, %d KiB (%.1f MiB in all, received in %v)", n, size>>10, float64(total)/(1<<20), elapsed.Round(time.Millisecond))
	rp.Figure("client durations (reading and pausing)", "%s", latencies(durations))
	rp.Figure("longest blocked write + flush of each run (server side)", "%s", latencies(writes))
	rp.Figure("records by status", "normal %d, aborted %d, timeout %d, aborted|timeout %d; aborts by cause %v", st.ByStatus[0], st.ByStatus[1], st.ByStatus[2], st.ByStatus[3], st.Aborts)
	rp.Figure("runs cut", "%d", cut)
	if left, stacks := settleGoroutines(baseline, 10*time.Second); left > 0 {
		fail.add("%d goroutines left after the drain (baseline %d):\n%s", left, baseline, stacks)
		rp.Figure("goroutines left after the drain", "%d", left)
	} else {
		rp.Figure("goroutines left after the drain", "0 (baseline %d)", baseline)
	}
	rp.Figure("violations", "%d", fail.n())
	if fail.n() > 0 {
		t.Errorf("%d violations:%s", fail.n(), fail.String())
	}
}
