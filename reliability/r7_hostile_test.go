package reliability

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestR7Hostile runs one hostile client at a time against the reference
// server with its default limits (package server's defaults: read-header
// timeout, header block, body size, dead-peer timeout), while a well-behaved client
// keeps asking: each attack must be bounded by a limit, its resources
// released, and the well-behaved client unaffected.
func TestR7Hostile(t *testing.T) {
	attacks := []struct {
		name, title string
		run         func(t *testing.T, p *proc, rp *report, baseFDs int)
		allowed     []string // log messages the attack may cause
	}{
		{"slowloris", "slowloris headers", attackSlowloris, nil},
		{"huge-header", "a huge header block", attackHugeHeader, nil},
		{"endless-body", "an endless body, as fast as it goes", attackEndlessBody, nil},
		{"huge-length", "a Content-Length of 10 GB", attackHugeLength, nil},
		{"slow-body", "a body that trickles, or stops, and never ends", attackSlowBody, []string{"runaway run"}},
		{"never-reads", "a client that never reads its response", attackNeverReads, nil},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			rp := newReport(t, "R7-"+a.name, "R7 hostile client: "+a.title)
			rp.Load("`lifeline -time-limit 3s` (its default limits otherwise); a well-behaved client sends GET /demo/timeout?busy=0s every 20ms on one keep-alive connection throughout")
			p := startProc(t, "lifeline", binary(t, refServerPkg), "-addr", "127.0.0.1:0", "-data", dataDir(t), "-time-limit", "3s", "-drain", "5s")
			can := startCanary(p.base)
			time.Sleep(200 * time.Millisecond)
			baseFDs := fdCount(t, p)
			start := time.Now()
			a.run(t, p, rp, baseFDs)
			attacked := time.Since(start)
			released, fds := waitReleased(t, p, baseFDs, 30*time.Second)
			rp.Figure("server descriptors back to the baseline", "%v after the attack began (baseline %d, now %d)", (attacked + released).Round(time.Millisecond), baseFDs, fds)
			lat, errs := can.stop()
			rp.Figure("well-behaved client during the attack", "%d requests, %d errors, latency %s", len(lat), len(errs), latencies(lat))
			if len(errs) > 0 {
				t.Errorf("the well-behaved client failed %d times: %v", len(errs), errs[:min(5, len(errs))])
			}
			if code := p.stop(t, 30*time.Second); code != 0 {
				t.Errorf("exit status %d after SIGTERM", code)
			}
			p.checkLog(t, a.allowed...)
		})
	}
}

// canary is the well-behaved client of R7.
type canary struct {
	stopc chan struct{}
	done  chan struct{}
	lat   []time.Duration
	errs  []error
}

func startCanary(base string) *canary {
	c := &canary{stopc: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second}
	go func() {
		defer close(c.done)
		defer client.CloseIdleConnections()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-c.stopc:
				return
			case <-tick.C:
			}
			start := time.Now()
			resp, err := client.Get(base + "/demo/timeout?limit=5s&busy=0s")
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			if err != nil {
				c.errs = append(c.errs, err)
				continue
			}
			c.lat = append(c.lat, time.Since(start))
		}
	}()
	return c
}

func (c *canary) stop() ([]time.Duration, []error) {
	close(c.stopc)
	<-c.done
	return c.lat, c.errs
}

// fdCount returns the number of open descriptors of the server process.
func fdCount(t testing.TB, p *proc) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/fd")
	if err != nil {
		t.Fatalf("count descriptors: %v", err)
	}
	return len(ents)
}

// waitReleased waits until the server holds no more descriptors than
// baseline and runs no run, and returns how long that took.
func waitReleased(t testing.TB, p *proc, baseline int, d time.Duration) (time.Duration, int) {
	t.Helper()
	start := time.Now()
	for {
		n := fdCount(t, p)
		if n <= baseline {
			var snap statusSnapshot
			getJSON(t, p.base+"/status?json", &snap)
			if snap.ActiveRuns == 0 {
				return time.Since(start), n
			}
		}
		if time.Since(start) > d {
			t.Errorf("resources not released %v after the attack: %d descriptors (baseline %d)", d, n, baseline)
			return time.Since(start), n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// closedBy reads from c until it fails and returns when and why.
func closedBy(c net.Conn, limit time.Duration) (time.Duration, []byte, error) {
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit))
	data, err := io.ReadAll(c)
	return time.Since(start), data, err
}
