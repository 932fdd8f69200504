package loadgen

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/testenv"
)

const wrkOut = `Running 3s test @ http://127.0.0.1:40000/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.20ms  500.00us  10.00ms   90.00%
    Req/Sec    40.00k     2.00k   45.00k    70.00%
  120000 requests in 3.00s, 14.65MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 3000
Requests/sec:  40000.00
Transfer/sec:      4.88MB
`

const h2Out = `starting benchmark...
spawning thread #0: 10 total client(s). Timing-based test with 0s of warm-up time and 3s of main duration for measurements.
finished in 3.00s, 30000.00 req/s, 1.50MB/s
requests: 90000 total, 90100 started, 90000 done, 89990 succeeded, 10 failed, 0 errored, 0 timeout
status codes: 89990 2xx, 0 3xx, 0 4xx, 10 5xx
traffic: 4.50MB (4718592) total, 1.00MB (1048576) headers (space savings 90.00%), 1.00MB (1048576) data
`

func TestParseWrk(t *testing.T) {
	res, err := ParseWrk(wrkOut)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 120000 || res.Duration != 3*time.Second || res.Failed != 3003 {
		t.Errorf("ParseWrk = %+v", res)
	}
	if want := (120000.0 - 3000) / 3; math.Abs(res.RPS-want) > 1e-6 {
		t.Errorf("RPS = %v, want %v (non-2xx excluded)", res.RPS, want)
	}
	if _, err := ParseWrk("unable to connect"); !errors.Is(err, ErrParse) {
		t.Errorf("ParseWrk(garbage) = %v, want ErrParse", err)
	}
}

func TestParseH2load(t *testing.T) {
	res, err := ParseH2load(h2Out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 90000 || res.Duration != 3*time.Second || res.Failed != 20 {
		t.Errorf("ParseH2load = %+v", res)
	}
	if want := 89990.0 / 3; math.Abs(res.RPS-want) > 1e-6 {
		t.Errorf("RPS = %v, want %v", res.RPS, want)
	}
	if _, err := ParseH2load("finished in 1s"); !errors.Is(err, ErrParse) {
		t.Errorf("ParseH2load(partial) = %v, want ErrParse", err)
	}
}

func TestArgs(t *testing.T) {
	l := Load{Conns: 50, Streams: 10, Threads: 1, Duration: 3 * time.Second, Timeout: 10 * time.Second}
	if got, want := strings.Join(WrkArgs("http://x/", l), " "), "-t 1 -c 50 -d 3s --timeout 10s http://x/"; got != want {
		t.Errorf("WrkArgs = %q, want %q", got, want)
	}
	if got, want := strings.Join(H2loadArgs("http://x/", l), " "), "-t 1 -c 50 -m 10 -D 3s http://x/"; got != want {
		t.Errorf("H2loadArgs = %q, want %q", got, want)
	}
}

// TestTools runs both tools for a second against a real server.
func TestTools(t *testing.T) {
	testenv.MustHaveExec(t, testenv.Wrk, "apt-get install -y wrk", "wrk")
	testenv.MustHaveExec(t, testenv.H2load, "apt-get install -y nghttp2-client", "h2load")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	}))
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = &p
	srv.Start()
	defer srv.Close()
	l := Load{Conns: 2, Streams: 2, Threads: 1, Duration: time.Second}
	for name, run := range map[string]func(context.Context, string, Load) (Result, error){"wrk": Wrk, "h2load": H2load} {
		res, err := run(context.Background(), srv.URL+"/", l)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Requests == 0 || res.RPS <= 0 || res.Failed != 0 || !strings.HasPrefix(res.Command, name+" ") {
			t.Errorf("%s: %+v, want requests, a rate, no failures and the command", name, res)
		}
	}
	// Pinned to CPU 0 (taskset is in util-linux, always there with wrk).
	l.CPUs = "0"
	res, err := Wrk(context.Background(), srv.URL+"/", l)
	if err != nil {
		t.Fatalf("wrk on CPU 0: %v", err)
	}
	if res.Requests == 0 || !strings.HasPrefix(res.Command, "taskset -c 0 wrk ") || res.CPU <= 0 {
		t.Errorf("wrk on CPU 0: %+v, want requests, the command under taskset and wrk's CPU time", res)
	}
}
