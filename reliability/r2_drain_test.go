package reliability

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestR2Drain sends SIGTERM to the reference server while the durable jobs
// of /demo/finish work (River, in the same process): each completes within
// the drain deadline, or is cancelled at it and left to River, which runs
// it again at the next start: none is lost. No connection is served after
// the signal.
func TestR2Drain(t *testing.T) {
	n := pick(1000, 1000)
	for _, tc := range []struct {
		name   string
		drain  time.Duration
		long   int           // runs whose work outlasts the drain
		short  time.Duration // the others work between short and 3*short
		exit   int
		report string
	}{
		{name: "complete", drain: 15 * time.Second, short: time.Second, exit: 0, report: "R2-complete"},
		{name: "cut", drain: 3 * time.Second, long: n / 2, short: 300 * time.Millisecond, exit: 0, report: "R2-cut"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testDrain(t, n, tc.drain, tc.long, tc.short, tc.exit, tc.report)
		})
	}
}

func testDrain(t *testing.T, n int, drain time.Duration, long int, short time.Duration, wantExit int, id string) {
	rp := newReport(t, id, fmt.Sprintf("R2 drain: SIGTERM with %d durable jobs working after Finish, drain %v, %d jobs longer than it", n, drain, long))
	rp.Load("`lifeline -drain %v -max-jobs %d`; %d GET /demo/finish over 50 keep-alive connections, answered at once by Finish, each enqueuing a River job; %d work %v-%v, %d work 60s", drain, n, n, n-long, short, 3*short, long)
	rp.Fault("SIGTERM once every job is working; new connections keep coming after it")
	rp.Check("each job completed within the drain, or (the 60s ones) was cancelled at its deadline and left to River to run again: none lost, none completed twice")
	rp.Check("no request sent on a new connection after the server logged the signal got an answer")
	rp.Check("exit status %d; the process ended within the drain plus the answer grace and the settle time", wantExit)

	dir := dataDir(t)
	p := startProc(t, "lifeline", binary(t, refServerPkg), "-addr", "127.0.0.1:0", "-data", dir, "-drain", drain.String(), "-time-limit", "0", "-max-jobs", strconv.Itoa(n))
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 50, MaxConnsPerHost: 50}}
	defer client.CloseIdleConnections()
	var (
		mu     sync.Mutex
		jobRun = map[int64]string{} // job id → "long" or "short"
		wg     sync.WaitGroup
		fail   failures
	)
	sem := make(chan struct{}, 50)
	for i := range n {
		work := short + time.Duration(i%100)*2*short/100
		kind := "short"
		if i < long {
			work, kind = 60*time.Second, "long"
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			resp, err := client.Get(fmt.Sprintf("%s/demo/finish?work=%v", p.base, work))
			if err != nil {
				fail.add("finish: %v", err)
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			m := jobLine.FindStringSubmatch(strings.TrimSuffix(strings.TrimPrefix(string(body), finishMessage), "\n"))
			if err != nil || resp.StatusCode != http.StatusOK || m == nil {
				fail.add("finish: %d %v %q", resp.StatusCode, err, body)
				return
			}
			jid, _ := strconv.ParseInt(m[1], 10, 64)
			mu.Lock()
			jobRun[jid] = kind
			mu.Unlock()
		})
	}
	wg.Wait()
	client.CloseIdleConnections()
	if fail.n() > 0 {
		t.Fatalf("answers:%s", fail.String())
	}
	var running int64
	deadline := time.Now().Add(30 * time.Second)
	for {
		var jl struct{ States map[string]int64 }
		getJSON(t, p.base+"/demo/jobs?limit=1", &jl)
		running = jl.States["running"]
		if (jl.States["available"] == 0 && running >= int64(max(long, 1))) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	rp.Figure("jobs working at SIGTERM", "%d", running)
	if running < int64(long) {
		t.Fatalf("only %d jobs work at the signal, want at least %d", running, long)
	}

	sigAt := time.Now()
	p.signal(t, sigTERM)
	// Wait for the server to log the signal, then keep knocking.
	for !strings.Contains(p.stderr.String(), "server: draining") {
		if time.Since(sigAt) > 10*time.Second {
			t.Fatalf("no \"server: draining\" in the log 10s after SIGTERM")
		}
		time.Sleep(time.Millisecond)
	}
	sawAt := time.Since(sigAt)
	probes, refused, served := 0, 0, 0
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		for {
			select {
			case <-p.done:
				return
			default:
			}
			probes++
			switch probe(p.addr) {
			case probeRefused:
				refused++
			case probeServed:
				served++
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	limit := drain + 3*time.Second + 5*time.Second + 10*time.Second
	code := p.wait(t, limit)
	stopped := time.Since(sigAt)
	<-probeDone
	rp.Figure("signal → \"server: draining\" logged", "%v", sawAt.Round(time.Millisecond))
	rp.Figure("signal → exit", "%v (exit status %d)", stopped.Round(time.Millisecond), code)
	rp.Figure("new connections tried after the signal", "%d: %d refused, %d accepted by the kernel and closed unanswered, %d served", probes, refused, probes-refused-served, served)
	if code != wantExit {
		fail.add("exit status %d, want %d", code, wantExit)
	}
	if served > 0 {
		fail.add("%d requests on new connections were served after the signal", served)
	}

	jobs, err := refJobs(dir)
	if err != nil {
		t.Fatal(err)
	}
	states := counter{}
	for _, j := range jobs {
		kind := jobRun[j.ID]
		states[kind+"/"+j.State]++
		switch {
		case kind == "":
			fail.add("job %d: not answered to any client", j.ID)
		case kind == "short" && j.State != "completed":
			fail.add("job %d (short): %s, want completed within the drain", j.ID, j.State)
		case kind == "long" && !jobPending(j.State):
			fail.add("job %d (long): %s, want left to River to run again", j.ID, j.State)
		}
	}
	if len(jobs) != n {
		fail.add("%d jobs, want %d", len(jobs), n)
	}
	wantLine := fmt.Sprintf("stopped: %d runs", n)
	if !strings.Contains(p.stdout.String(), wantLine) {
		fail.add("stdout %q, want %q", p.stdout.String(), wantLine)
	}
	if want := fmt.Sprintf("%d jobs left for later", long); !strings.Contains(p.stdout.String(), want) {
		fail.add("stdout %q, want %q", p.stdout.String(), want)
	}
	rp.Figure("jobs by kind/state", "%s", states)
	p.checkLog(t)
	rp.Figure("violations", "%d", fail.n())
	if fail.n() > 0 {
		t.Errorf("%d violations:%s", fail.n(), fail.String())
	}
}

type probeResult int

const (
	probeRefused probeResult = iota // the connection was refused
	probeClosed                     // accepted by the kernel, closed without an answer
	probeServed                     // an HTTP response came back
)

// probe opens a new connection, sends a request and reports what happened.
func probe(addr string) probeResult {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return probeRefused
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET /demo/runs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		return probeClosed
	}
	if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
		return probeClosed
	}
	return probeServed
}
