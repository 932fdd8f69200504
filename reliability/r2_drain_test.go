package reliability

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestR2Drain sends SIGTERM to the reference server while runs work after
// Finish: each completes within the drain deadline, or is cancelled with
// ErrServerShutdown and listed, and the exit status tells which. No
// connection is served after the signal.
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
		{name: "cut", drain: 3 * time.Second, long: n / 2, short: 300 * time.Millisecond, exit: 1, report: "R2-cut"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testDrain(t, n, tc.drain, tc.long, tc.short, tc.exit, tc.report)
		})
	}
}

var cutShort = regexp.MustCompile(`msg="server: run cut short by shutdown" id=(\d+) .*uri=(\S+)`)

func testDrain(t *testing.T, n int, drain time.Duration, long int, short time.Duration, wantExit int, id string) {
	rp := newReport(t, id, fmt.Sprintf("R2 drain: SIGTERM with %d runs working after Finish, drain %v, %d runs longer than it", n, drain, long))
	rp.Load("`lifeline -drain %v`; %d GET /demo/finish over 50 keep-alive connections, answered at once by Finish; %d work %v-%v afterwards, %d work 60s", drain, n, n-long, short, 3*short, long)
	rp.Fault("SIGTERM once every run is working after Finish; new connections keep coming after it")
	rp.Check("each run completed (job done) or was cancelled with ErrServerShutdown (job interrupted, reason \"server shutdown\") and listed in the log by id")
	rp.Check("no request sent on a new connection after the server logged the signal got an answer")
	rp.Check("exit status %d; the process ended within the drain plus the answer grace and the settle time", wantExit)

	dir := dataDir(t)
	p := startProc(t, "lifeline", binary(t, refServerPkg), "-addr", "127.0.0.1:0", "-data", dir, "-drain", drain.String(), "-time-limit", "0")
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 50, MaxConnsPerHost: 50}}
	defer client.CloseIdleConnections()
	var (
		mu     sync.Mutex
		jobRun = map[uint64]string{} // job id → "long" or "short"
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
			jid, _ := strconv.ParseUint(m[1], 10, 64)
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
	var snap statusSnapshot
	getJSON(t, p.base+"/status?json", &snap)
	rp.Figure("runs working after Finish at SIGTERM", "%d (active %d)", snap.FinishedRuns, snap.ActiveRuns)
	if long > 0 && snap.FinishedRuns < long {
		t.Fatalf("only %d runs work after Finish at the signal, want at least %d", snap.FinishedRuns, long)
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
	cut := map[uint64]bool{}
	for _, m := range cutShort.FindAllStringSubmatch(p.stderr.String(), -1) {
		id, _ := strconv.ParseUint(m[1], 10, 64)
		cut[id] = true
	}
	states := counter{}
	for _, j := range jobs {
		kind := jobRun[j.ID]
		states[kind+"/"+j.State+"/"+j.Reason]++
		switch {
		case kind == "":
			fail.add("job %d: not answered to any client", j.ID)
		case kind == "short" && j.State != "done":
			fail.add("job %d (short): %s (%s), want done within the drain", j.ID, j.State, j.Reason)
		case kind == "short" && j.Ended.After(sigAt.Add(drain)):
			fail.add("job %d (short): ended %v after the signal, past the drain deadline", j.ID, j.Ended.Sub(sigAt))
		case kind == "long" && (j.State != "interrupted" || j.Reason != "server shutdown"):
			fail.add("job %d (long): %s (%s), want interrupted by the server shutdown", j.ID, j.State, j.Reason)
		case kind == "long" && !cut[j.Run]:
			fail.add("job %d (long): its run %d is not listed as cut short in the log", j.ID, j.Run)
		case kind == "short" && cut[j.Run]:
			fail.add("job %d (short): its run %d is listed as cut short", j.ID, j.Run)
		}
	}
	if len(jobs) != n || len(cut) != long {
		fail.add("%d jobs (want %d), %d runs listed as cut short (want %d)", len(jobs), n, len(cut), long)
	}
	wantLine := fmt.Sprintf("stopped: %d runs", n)
	if !strings.Contains(p.stdout.String(), wantLine) {
		fail.add("stdout %q, want %q", p.stdout.String(), wantLine)
	}
	if wantExit != 0 && !strings.Contains(p.stderr.String(), "drain incomplete") {
		fail.add("no \"drain incomplete\" in the log")
	}
	rp.Figure("jobs by kind/state/reason", "%s", states)
	rp.Figure("runs listed as cut short", "%d", len(cut))
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
