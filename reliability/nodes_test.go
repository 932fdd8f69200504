package reliability

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"
)

// startNodes runs n lifeline-node processes named a, b, c... sharing the
// Redis at redisAddr.
func startNodes(t testing.TB, n int, redisAddr string, extra ...string) []*proc {
	t.Helper()
	bin := binary(t, nodePkg)
	out := make([]*proc, n)
	for i := range out {
		name := string(rune('a' + i))
		args := append([]string{"-addr", "127.0.0.1:0", "-redis", redisAddr, "-name", name}, extra...)
		out[i] = startProc(t, "node-"+name, bin, args...)
	}
	return out
}

// nodeClient returns a client that opens a new connection per request, so
// that thousands of requests can be in flight at once.
func nodeClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true, MaxIdleConnsPerHost: -1}}
}

// nodeReply is one answer of a node: status, body, replay flag, cookie.
type nodeReply struct {
	code     int
	body     []byte
	replayed bool
	cookie   string // the session cookie the answer set, if any
	latency  time.Duration
	err      error
}

// nodeDo sends one request and reads the whole answer.
func nodeDo(c *http.Client, method, url string, header http.Header) nodeReply {
	return nodeDoConnected(c, method, url, header, nil)
}

// nodeDoConnected is nodeDo calling connected, if not nil, once the
// request has its connection (or failed to get one).
func nodeDoConnected(c *http.Client, method, url string, header http.Header, connected func()) nodeReply {
	start := time.Now()
	var once sync.Once
	if connected != nil {
		defer once.Do(connected)
	}
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return nodeReply{err: err}
	}
	if connected != nil {
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(httptrace.GotConnInfo) { once.Do(connected) },
		}))
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		return nodeReply{err: err, latency: time.Since(start)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	rep := nodeReply{code: resp.StatusCode, body: body, err: err, replayed: resp.Header.Get("Idempotent-Replayed") == "true", latency: time.Since(start)}
	for _, ck := range resp.Cookies() {
		if ck.Name == "lifeline_session" {
			rep.cookie = ck.Value
		}
	}
	return rep
}

// incrN decodes the counter of a /incr answer.
func incrN(body []byte) (int, error) {
	var a struct {
		N int `json:"n"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return 0, fmt.Errorf("%v in %q", err, body)
	}
	return a.N, nil
}

// effects sums the side effects every node performed, by key.
func effects(t testing.TB, nodes []*proc) map[string]int {
	t.Helper()
	total := map[string]int{}
	for _, p := range nodes {
		var m map[string]int
		getJSON(t, p.base+"/effects", &m)
		for k, v := range m {
			total[k] += v
		}
	}
	return total
}

// stopNodes drains every node and checks its exit and log.
func stopNodes(t testing.TB, nodes []*proc, allowed ...string) {
	t.Helper()
	for _, p := range nodes {
		p.signal(t, sigTERM)
	}
	for _, p := range nodes {
		if code := p.wait(t, 60*time.Second); code != 0 {
			t.Errorf("%s: exit status %d\n%s", p.name, code, tail(p.stderr.String(), 3000))
		}
		p.checkLog(t, allowed...)
	}
}

func sessionHeader(id string) http.Header {
	return http.Header{"Cookie": {"lifeline_session=" + id}}
}

func shortBody(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
