package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/syncbuf"
	"github.com/lifeline-go/lifeline/internal/wait"
)

// testServer is one run of the reference server on a free loopback port,
// started by calling run directly, as main does.
type testServer struct {
	base    string // http://127.0.0.1:PORT
	dataDir string
	cancel  context.CancelFunc
	done    chan error    // run's result
	outDone chan struct{} // closed when stdout has been read to its end
	stdout  *syncbuf.Buffer
	stderr  *syncbuf.Buffer
	stopped bool
}

// startServer runs the server with -addr 127.0.0.1:0, h2c on, a fresh data
// directory and a short drain, plus extra flags, and waits until it listens.
// The server is stopped when the test ends.
func startServer(t *testing.T, extra ...string) *testServer {
	t.Helper()
	ts := &testServer{dataDir: t.TempDir(), done: make(chan error, 1), outDone: make(chan struct{}),
		stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}}
	args := append([]string{"-addr", "127.0.0.1:0", "-data", ts.dataDir, "-h2c", "-drain", "5s"}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel = cancel
	pr, pw := io.Pipe()
	go func() {
		err := run(ctx, args, pw, ts.stderr)
		pw.Close()
		ts.done <- err
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		cancel()
		t.Fatalf("run ended before listening: %v\nstderr:\n%s", <-ts.done, ts.stderr)
	}
	line := sc.Text()
	addr, ok := strings.CutPrefix(line, "listening on ")
	if !ok {
		cancel()
		t.Fatalf("first line of stdout = %q, want \"listening on http://ADDR\"", line)
	}
	ts.base = addr
	go func() { // keep reading, so that run never blocks on stdout
		defer close(ts.outDone)
		for sc.Scan() {
			ts.stdout.Write(append(sc.Bytes(), '\n'))
		}
	}()
	t.Cleanup(func() {
		if !ts.stopped {
			if err := ts.stop(t); err != nil {
				t.Errorf("run returned %v\nstderr:\n%s", err, ts.stderr)
			}
		}
	})
	return ts
}

// stop cancels run's context and returns its result.
func (ts *testServer) stop(t *testing.T) error {
	t.Helper()
	ts.stopped = true
	ts.cancel()
	timer := time.NewTimer(15 * time.Second)
	defer timer.Stop()
	select {
	case err := <-ts.done:
		<-ts.outDone
		return err
	case <-timer.C:
		t.Fatalf("run did not return within 15s of its context being cancelled\nstderr:\n%s", ts.stderr)
		return nil
	}
}

// protocols are the ways the tests speak to the server.
var protocols = []string{"HTTP/1.1", "h2c"}

// newClient returns a client speaking proto (HTTP/1.1 or h2c, HTTP/2 with
// prior knowledge), with a cookie jar.
func newClient(t *testing.T, proto string) *http.Client {
	t.Helper()
	tr := &http.Transport{Protocols: new(http.Protocols)}
	switch proto {
	case "HTTP/1.1":
		tr.Protocols.SetHTTP1(true)
	case "h2c":
		tr.Protocols.SetUnencryptedHTTP2(true)
	default:
		t.Fatalf("unknown protocol %q", proto)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Jar: jar, Timeout: 20 * time.Second}
}

// eachProtocol runs f in parallel subtests, one per protocol, each with a
// server of its own (so records and orders do not mix) and a client.
func eachProtocol(t *testing.T, f func(t *testing.T, ts *testServer, c *http.Client), extra ...string) {
	t.Helper()
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			f(t, startServer(t, extra...), newClient(t, proto))
		})
	}
}

// response is an answer read whole.
type response struct {
	*http.Response
	body    string
	elapsed time.Duration // from the request to the end of the body
}

// do sends a request and reads the whole answer. It checks that the
// protocol is the one the client was made for.
func do(t *testing.T, c *http.Client, method, url string, hdr http.Header) response {
	t.Helper()
	resp, err := tryDo(c, method, url, hdr)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// tryDo is do for goroutines other than the test's: it returns its error.
func tryDo(c *http.Client, method, url string, hdr http.Header) (response, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return response{}, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: reading the body: %w", method, url, err)
	}
	if want := protoOf(c); resp.ProtoMajor != want {
		return response{}, fmt.Errorf("%s %s: response protocol = %s, want HTTP/%d", method, url, resp.Proto, want)
	}
	return response{Response: resp, body: string(b), elapsed: time.Since(start)}, nil
}

func get(t *testing.T, c *http.Client, url string) response {
	t.Helper()
	return do(t, c, http.MethodGet, url, nil)
}

func checkProto(t *testing.T, c *http.Client, resp *http.Response) {
	t.Helper()
	if want := protoOf(c); resp.ProtoMajor != want {
		t.Fatalf("response protocol = %s, want HTTP/%d", resp.Proto, want)
	}
}

// protoOf returns the HTTP major version c speaks.
func protoOf(c *http.Client) int {
	if c.Transport.(*http.Transport).Protocols.UnencryptedHTTP2() {
		return 2
	}
	return 1
}

// getJSON GETs url with a fresh HTTP/1.1 client and decodes the answer.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decoding: %v", url, err)
	}
}

// eventually polls cond every 10ms until it holds, failing after timeout.
// It waits for the server's background work (a shutdown function, a job),
// whose end a client cannot be told of otherwise; it asserts no timing.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	wait.For(t, timeout, what, cond)
}

// runsOf returns /demo/runs?route=route.
func runsOf(t *testing.T, ts *testServer, route string) (active, recent []runJSON) {
	t.Helper()
	var v struct{ Active, Recent []runJSON }
	getJSON(t, ts.base+"/demo/runs?route="+route, &v)
	return v.Active, v.Recent
}

// waitRecord waits for the record of an ended run of route that matches.
func waitRecord(t *testing.T, ts *testServer, route string, match func(runJSON) bool) runJSON {
	t.Helper()
	var found runJSON
	eventually(t, 10*time.Second, "a record of route "+route, func() bool {
		_, recent := runsOf(t, ts, route)
		for _, rec := range recent {
			if match(rec) {
				found = rec
				return true
			}
		}
		return false
	})
	return found
}

// waitActive waits for a live run of route that matches.
func waitActive(t *testing.T, ts *testServer, route string, match func(runJSON) bool) runJSON {
	t.Helper()
	var found runJSON
	eventually(t, 10*time.Second, "a live run of route "+route, func() bool {
		active, _ := runsOf(t, ts, route)
		for _, ri := range active {
			if match(ri) {
				found = ri
				return true
			}
		}
		return false
	})
	return found
}

func orderList(t *testing.T, ts *testServer) []order {
	t.Helper()
	var v struct{ Orders []order }
	getJSON(t, ts.base+"/demo/orders", &v)
	return v.Orders
}

func findOrder(t *testing.T, ts *testServer, ref string) (order, bool) {
	t.Helper()
	for _, o := range orderList(t, ts) {
		if o.Ref == ref {
			return o, true
		}
	}
	return order{}, false
}

func jobList(t *testing.T, ts *testServer) []jobJSON {
	t.Helper()
	var v struct{ Jobs []jobJSON }
	getJSON(t, ts.base+"/demo/jobs", &v)
	return v.Jobs
}

func findJob(t *testing.T, ts *testServer, id int64) (jobJSON, bool) {
	t.Helper()
	for _, j := range jobList(t, ts) {
		if j.ID == id {
			return j, true
		}
	}
	return jobJSON{}, false
}

// waitJobDone waits for job id to complete and checks that it worked for
// at least work.
func waitJobDone(t *testing.T, ts *testServer, id int64, kind string, work time.Duration) {
	t.Helper()
	var j jobJSON
	eventually(t, 10*time.Second, "the job to complete", func() bool {
		j, _ = findJob(t, ts, id)
		return j.State == "completed"
	})
	if j.Kind != kind || j.AttemptedAt == nil || j.FinalizedAt == nil || j.FinalizedAt.Sub(*j.AttemptedAt) < work {
		t.Errorf("job = %+v, want a %s job that worked %v", j, kind, work)
	}
}
