package reliability

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/testenv"
	"github.com/lifeline-go/lifeline/internal/wait"
)

// TestR7Security tries each finding of the security review as an adversary
// would, against the reference server running as a process on loopback,
// and checks the secure outcome: what shows runs is refused to forwarded,
// rebinding and token-less requests; a secret in a query string appears
// nowhere; the token need not be in argv; cross-site POSTs change nothing;
// a full disk shows the client an id, never the error's text; parameters
// are strict; a planted second session cookie does not replace the
// visitor's session. docs/SECURITY.md is the threat model.
func TestR7Security(t *testing.T) {
	scenarios := []struct {
		name, title string
		run         func(t *testing.T, rp *report)
	}{
		{"forwarded", "forwarding headers never grant loopback access", secForwarded},
		{"host", "Host rebinding (DNS rebinding from a local browser)", secHost},
		{"query-strings", "listings and logs without query strings", secQueryStrings},
		{"token", "the status token from a file or the environment, not argv", secToken},
		{"csrf", "cross-site requests to state-changing endpoints", secCrossSite},
		{"disk-full", "internal error text on a full disk", secDiskFull},
		{"strict-params", "strict parameters: ';' separators, multipart and unknown fields", secStrictParams},
		{"two-cookies", "two session cookies, a planted one first", secTwoCookies},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			rp := newReport(t, "R7-security-"+sc.name, "R7 security: "+sc.title)
			sc.run(t, rp)
		})
	}
}

// startRef starts the reference server with a fresh data directory and
// extra flags; it is stopped, and its log checked, when t ends.
func startRef(t *testing.T, dir string, extra ...string) *proc {
	t.Helper()
	if dir == "" {
		dir = dataDir(t)
	}
	args := append([]string{"-addr", "127.0.0.1:0", "-data", dir, "-time-limit", "5s", "-drain", "2s"}, extra...)
	p := startProc(t, "lifeline", binary(t, refServerPkg), args...)
	t.Cleanup(func() {
		if code := p.stop(t, 30*time.Second); code != 0 {
			t.Errorf("exit status %d after SIGTERM", code)
		}
		p.checkLog(t)
	})
	return p
}

// exchange is one request of an adversary and its answer.
type exchange struct {
	method, path, host string
	hdr                http.Header
	body               []byte
}

// do sends e to p on a fresh connection and returns the code and the body.
func (e exchange) do(t *testing.T, p *proc) (int, string) {
	t.Helper()
	method := e.method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if e.body != nil {
		body = bytes.NewReader(e.body)
	}
	req, err := http.NewRequest(method, p.base+e.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if e.host != "" {
		req.Host = e.host
	}
	for k, v := range e.hdr {
		req.Header[k] = v // as given: X_Forwarded_For stays as spelt
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, e.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, e.path, err)
	}
	return resp.StatusCode, string(b)
}

// showsRuns are the paths that show what the runs did: one access rule for
// all of them.
var showsRuns = []string{"/status", "/status?json", "/status?json&full", "/metrics", "/demo/runs", "/demo/orders", "/demo/jobs"}

// forwardingHeaders is the family of headers a proxy adds, in the
// spellings an attacker would try. Each must take loopback access away.
var forwardingHeaders = []string{
	"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-IP", "X-Client-IP",
	"True-Client-IP", "CF-Connecting-IP", "X-Cluster-Client-IP", "Fastly-Client-IP", "Client-IP",
	"X-Originating-IP", "X-Remote-IP", "X-Remote-Addr", "Via", "X_Forwarded_For", "x_real_ip",
	"X_CLIENT_IP", "true_client_ip", "cf_connecting_ip",
}

func secForwarded(t *testing.T, rp *report) {
	p := startRef(t, "")
	rp.Load("`lifeline` with its defaults (no token, loopback access only)")
	rp.Fault("every path that shows runs (%s), asked from loopback with each of %d forwarding headers (%s) set to 127.0.0.1, then to 8.8.8.8",
		strings.Join(showsRuns, ", "), len(forwardingHeaders), strings.Join(forwardingHeaders, ", "))
	rp.Check("the same request without the header is 200 (the access is really there to lose); with any of them, 403")
	codes := counter{}
	for _, path := range showsRuns {
		if code, body := (exchange{path: path}).do(t, p); code != http.StatusOK {
			t.Fatalf("GET %s from loopback, no header: %d %q, want 200", path, code, clip(body))
		}
		for _, h := range forwardingHeaders {
			for _, v := range []string{"127.0.0.1", "8.8.8.8"} {
				code, body := exchange{path: path, hdr: http.Header{h: {v}}}.do(t, p)
				codes[strconv.Itoa(code)]++
				if code != http.StatusForbidden {
					t.Errorf("GET %s with %s: %s: %d %q, want 403", path, h, v, code, clip(body))
				}
			}
		}
	}
	rp.Figure("answers to forwarded requests", "%v of %d", codes, len(showsRuns)*len(forwardingHeaders)*2)
}

func secHost(t *testing.T, rp *report) {
	p := startRef(t, "")
	_, port, _ := strings.Cut(p.addr, ":")
	rp.Load("`lifeline` with its defaults (-allowed-hosts localhost,127.0.0.1,[::1])")
	bad := []string{"evil.example", "evil.example:" + port, "localhost.evil.example", "127.0.0.1.nip.io", "EVIL.example.", "0x7f000001"}
	good := []string{"localhost", "localhost:" + port, "LOCALHOST.", "127.0.0.1:" + port, "[::1]:" + port}
	rp.Fault("a page of evil.example rebinds its name to 127.0.0.1: every path that shows runs asked from loopback with Host %s; and POST /demo/order with that Host and a matching Origin", strings.Join(bad, ", "))
	rp.Check("403 for each; the allowed names (%s) get 200; the POST creates no order", strings.Join(good, ", "))
	refused := 0
	for _, path := range showsRuns {
		for _, h := range bad {
			code, body := exchange{path: path, host: h}.do(t, p)
			if code != http.StatusForbidden {
				t.Errorf("GET %s with Host %q: %d %q, want 403", path, h, code, clip(body))
				continue
			}
			refused++
		}
		for _, h := range good {
			if code, body := (exchange{path: path, host: h}).do(t, p); code != http.StatusOK {
				t.Errorf("GET %s with Host %q: %d %q, want 200", path, h, code, clip(body))
			}
		}
	}
	rp.Figure("rebinding requests refused", "%d of %d", refused, len(showsRuns)*len(bad))
	code, body := exchange{method: http.MethodPost, path: "/demo/order?work=0s&ref=rebound", host: "evil.example:" + port,
		hdr: http.Header{"Origin": {"http://evil.example:" + port}, "Sec-Fetch-Site": {"same-origin"}}}.do(t, p)
	rp.Figure("rebinding POST /demo/order", "%d %q", code, strings.TrimSpace(body))
	if code != http.StatusForbidden {
		t.Errorf("rebinding POST: %d %q, want 403", code, body)
	}
	if n := countOrders(t, p, "rebound"); n != 0 {
		t.Errorf("the rebinding POST created %d orders", n)
	}
}

// countOrders returns how many orders of /demo/orders have ref.
func countOrders(t *testing.T, p *proc, ref string) int {
	t.Helper()
	var list struct {
		Orders []struct {
			Ref string `json:"ref"`
		} `json:"orders"`
	}
	getJSON(t, p.base+"/demo/orders", &list)
	n := 0
	for _, o := range list.Orders {
		if o.Ref == ref {
			n++
		}
	}
	return n
}

func secQueryStrings(t *testing.T, rp *report) {
	const secret = "SECRET123"
	p := startRef(t, "", "-v")
	rp.Load("`lifeline -v` (debug log, one line per run) without -status-query-strings")
	rp.Fault("requests whose query strings carry token=%s, answered 400 (an unknown parameter) by /demo/finish, /demo/timeout and /demo/session; one valid run, /demo/finish?work=0s", secret)
	rp.Check("the runs appear in the listings, by path, and neither the secret nor any query string appears in %s, nor in the server's log", strings.Join(showsRuns, ", "))
	for _, path := range []string{"/demo/finish?work=0s&token=", "/demo/timeout?token=", "/demo/session?hold=0s&token="} {
		if code, _ := (exchange{path: path + secret}).do(t, p); code != http.StatusBadRequest {
			t.Errorf("%s…: %d, want 400", path, code)
		}
	}
	if code, body := (exchange{path: "/demo/finish?work=0s"}).do(t, p); code != http.StatusOK {
		t.Fatalf("/demo/finish?work=0s: %d %q", code, clip(body))
	}
	waitIdle(t, p.base, 10*time.Second)
	var runs struct {
		Recent []struct {
			URI  string `json:"uri"`
			Code int    `json:"code"`
		} `json:"recent"`
	}
	getJSON(t, p.base+"/demo/runs", &runs)
	listed := counter{}
	for _, r := range runs.Recent {
		listed[r.URI+" "+strconv.Itoa(r.Code)]++
	}
	for _, want := range []string{"/demo/finish 400", "/demo/timeout 400", "/demo/session 400", "/demo/finish 200"} {
		if listed[want] == 0 {
			t.Errorf("/demo/runs lists %v, lacks %s: the runs are not listed by path", listed, want)
		}
	}
	rp.Figure("runs listed by /demo/runs", "%v", listed)
	shown := 0
	for _, path := range showsRuns {
		_, body := exchange{path: path}.do(t, p)
		if strings.Contains(body, secret) || strings.Contains(body, "work=0s") {
			shown++
			t.Errorf("GET %s shows a query string", path)
		}
	}
	if log := p.stderr.String() + p.stdout.String(); strings.Contains(log, secret) || strings.Contains(log, "work=0s") {
		shown++
		t.Errorf("the server's log has a query string")
	}
	rp.Figure("places that showed a query string", "%d of %d listings and the log", shown, len(showsRuns))
}

func secToken(t *testing.T, rp *report) {
	const token = "s3cret-status-token-R7"
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rp.Load("`lifeline -status-token-file FILE`, then `LIFELINE_STATUS_TOKEN=… lifeline`, then `lifeline -status-token TOKEN`")
	rp.Fault("a local user reads the server's argv (/proc/PID/cmdline, as ps does); a loopback client asks every path that shows runs without the token, with a wrong one, with the right one")
	rp.Check("the token is not in argv when it comes from the file or the environment; -status-token logs a warning; without the token or with a wrong one 401 with a Bearer challenge; with it 200")
	ways := []struct {
		name string
		env  string
		args []string
	}{
		{name: "file", args: []string{"-status-token-file", file}},
		{name: "env", env: token},
		{name: "argv", args: []string{"-status-token", token}},
	}
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			if w.env != "" {
				t.Setenv("LIFELINE_STATUS_TOKEN", w.env)
			}
			p := startRef(t, "", w.args...)
			argv, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/cmdline")
			if err != nil {
				t.Fatal(err)
			}
			inArgv := bytes.Contains(argv, []byte(token))
			if inArgv != (w.name == "argv") {
				t.Errorf("token in argv: %v", inArgv)
			}
			if w.name == "argv" {
				// The warning may be written just after "listening on".
				if !wait.Until(10*time.Second, func() bool { return strings.Contains(p.stderr.String(), "-status-token is visible") }) {
					t.Errorf("-status-token logged no warning:\n%s", p.stderr)
				}
			}
			answers := counter{}
			for _, path := range showsRuns {
				for _, auth := range []string{"", "Bearer wrong", "Bearer " + token} {
					hdr := http.Header{}
					if auth != "" {
						hdr.Set("Authorization", auth)
					}
					code, _ := exchange{path: path, hdr: hdr}.do(t, p)
					want := http.StatusUnauthorized
					if auth == "Bearer "+token {
						want = http.StatusOK
					}
					answers[strings.Fields(auth + " none")[0]+"→"+strconv.Itoa(code)]++
					if code != want {
						t.Errorf("GET %s, Authorization %q: %d, want %d", path, auth, code, want)
					}
				}
			}
			rp.Figure("token from "+w.name, "in argv: %v; answers %v", inArgv, answers)
		})
	}
}

func secCrossSite(t *testing.T, rp *report) {
	p := startRef(t, "")
	_, port, _ := strings.Cut(p.addr, ":")
	rp.Load("`lifeline` with its defaults")
	rp.Fault("POST /demo/order as a browser sends it for a page of another site: Sec-Fetch-Site cross-site or same-site, or (older browsers) only an Origin of another site")
	rp.Check("403 for each and no order created; the same POST from the page's own origin, and from curl (neither header), is served")
	cases := []struct {
		name string
		hdr  http.Header
		want int
	}{
		{"cross-site", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}, 403},
		{"same-site", http.Header{"Sec-Fetch-Site": {"same-site"}, "Origin": {"http://sub.localhost:" + port}}, 403},
		{"origin only", http.Header{"Origin": {"https://evil.example"}}, 403},
		{"null origin", http.Header{"Origin": {"null"}}, 403},
		{"same-origin", http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {"http://" + p.addr}}, 201},
		{"curl", nil, 201},
	}
	refused := 0
	for i, c := range cases {
		ref := "csrf-" + strconv.Itoa(i)
		code, body := exchange{method: http.MethodPost, path: "/demo/order?work=0s&ref=" + ref, hdr: c.hdr}.do(t, p)
		if (code == http.StatusForbidden) != (c.want == http.StatusForbidden) || (c.want != 403 && code/100 != 2) {
			t.Errorf("%s: %d %q, want %d", c.name, code, clip(body), c.want)
		}
		if code == http.StatusForbidden {
			refused++
		}
		waitIdle(t, p.base, 10*time.Second)
		created := countOrders(t, p, ref)
		if (created > 0) != (c.want != 403) {
			t.Errorf("%s: %d orders created", c.name, created)
		}
	}
	rp.Figure("cross-site POSTs refused", "%d of 4; same-origin and curl served", refused)
}

var idAnswer = regexp.MustCompile(`^internal error \(id ([0-9a-f]{16})\)\n$`)

func secDiskFull(t *testing.T, rp *report) {
	if os.Getuid() != 0 {
		testenv.Missing(t, testenv.Netns, "root is needed to mount a small tmpfs as a full disk")
	}
	if _, err := exec.LookPath("mount"); err != nil {
		testenv.Missing(t, testenv.Netns, "mount(8) is needed for a small tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Missing(t, testenv.Netns, "mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	p := startRef(t, dir)
	rp.Load("`lifeline -data DIR` where DIR is a 4 MiB tmpfs")
	rp.Fault("the disk fills up (a file takes all the space left), then GET /demo/finish?work=0s, which saves a job")
	rp.Check("500 \"internal error (id ID)\": neither the data directory nor \"no space left\" in the body; the log has the id and the error")
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := filler.Write(chunk); err != nil {
			break
		}
	}
	filler.Close()
	var code int
	var body string
	for range 20 { // SQLite writes into pages it already has until it must grow the file
		code, body = exchange{path: "/demo/finish?work=0s&pad=65536"}.do(t, p)
		if code != http.StatusOK {
			break
		}
	}
	rp.Figure("answer on a full disk", "%d %q", code, strings.TrimSpace(body))
	m := idAnswer.FindStringSubmatch(body)
	if code != http.StatusInternalServerError || m == nil {
		t.Fatalf("answer %d %q, want 500 \"internal error (id ID)\"", code, body)
	}
	if strings.Contains(body, dir) || strings.Contains(body, "no space") {
		t.Errorf("the body shows the error's text: %q", body)
	}
	// The process's stderr reaches the test through a pipe copied by
	// another goroutine: the line may arrive a moment after the answer.
	var logged string
	wait.Until(5*time.Second, func() bool {
		for l := range strings.SplitSeq(p.stderr.String(), "\n") {
			if strings.Contains(l, m[1]) {
				logged = l
			}
		}
		return logged != ""
	})
	if !strings.Contains(logged, "no space left on device") && !strings.Contains(logged, "disk is full") { // SQLITE_FULL
		t.Errorf("no log line with the id %s and the error:\n%s", m[1], tail(p.stderr.String(), 4000))
	}
	os.Remove(filler.Name())
}

func secStrictParams(t *testing.T, rp *report) {
	p := startRef(t, "")
	rp.Load("`lifeline` with its defaults")
	form := func(fields map[string]string) ([]byte, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for k, v := range fields {
			_ = mw.WriteField(k, v)
		}
		mw.Close()
		return b.Bytes(), mw.FormDataContentType()
	}
	mp, mpType := form(map[string]string{"work": "0s", "ref": "multipart"})
	cases := []struct {
		name string
		e    exchange
	}{
		{"';' separator", exchange{path: "/demo/finish?work=1s;pad=1"}},
		{"';' alone", exchange{path: "/demo/timeout?busy=0s;limit=1s"}},
		{"bad escape", exchange{path: "/demo/finish?work=%zz"}},
		{"unknown parameter", exchange{path: "/demo/finish?work=0s&debug=1"}},
		{"repeated parameter", exchange{path: "/demo/finish?work=0s&work=1s"}},
		{"out of range", exchange{path: "/demo/finish?work=61s"}},
		{"multipart order", exchange{method: http.MethodPost, path: "/demo/order", body: mp, hdr: http.Header{"Content-Type": {mpType}}}},
		{"JSON order", exchange{method: http.MethodPost, path: "/demo/order", body: []byte(`{"work":"0s"}`), hdr: http.Header{"Content-Type": {"application/json"}}}},
		{"untyped order body", exchange{method: http.MethodPost, path: "/demo/order", body: []byte("work=0s")}},
		{"unknown order field", exchange{method: http.MethodPost, path: "/demo/order", body: []byte("work=0s&ref=extra&admin=1"),
			hdr: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}},
		{"status sort", exchange{path: "/status?json&sort=nosuch"}},
		{"status ';'", exchange{path: "/status?json;full"}},
		{"status unknown", exchange{path: "/status?json&debug"}},
	}
	rp.Fault("%d requests with malformed or unexpected parameters: %s", len(cases), func() string {
		var names []string
		for _, c := range cases {
			names = append(names, c.name+" ("+c.e.method+" "+c.e.path+")")
		}
		return strings.Join(names, "; ")
	}())
	rp.Check("400 for each, naming the parameter; none runs with defaults; no order is created")
	before := endedRuns(t, p)
	bad := 0
	for _, c := range cases {
		code, body := c.e.do(t, p)
		if code != http.StatusBadRequest {
			t.Errorf("%s: %d %q, want 400", c.name, code, clip(body))
			continue
		}
		bad++
	}
	waitIdle(t, p.base, 10*time.Second)
	rp.Figure("answered 400", "%d of %d; runs that did work: %d", bad, len(cases), endedRuns(t, p)-before)
	for _, ref := range []string{"multipart", "extra"} {
		if n := countOrders(t, p, ref); n != 0 {
			t.Errorf("order %q created %d times from a refused body", ref, n)
		}
	}
}

// endedRuns returns how many runs of /demo/finish, /demo/timeout and
// /demo/order the pool has recorded with a 2xx code.
func endedRuns(t *testing.T, p *proc) int {
	t.Helper()
	var runs struct {
		Recent []struct {
			Route string `json:"route"`
			Code  int    `json:"code"`
		} `json:"recent"`
	}
	getJSON(t, p.base+"/demo/runs", &runs)
	n := 0
	for _, r := range runs.Recent {
		if r.Code/100 == 2 && (r.Route == "finish" || r.Route == "timeout" || r.Route == "order") {
			n++
		}
	}
	return n
}

func secTwoCookies(t *testing.T, rp *report) {
	p := startRef(t, "")
	rp.Load("`lifeline` with its defaults (sessions in bbolt)")
	rp.Fault("a visitor has a session; a planted lifeline_session cookie (a well-formed id the server never issued, or another visitor's expired one) is sent first, as a browser sends a cookie for a wider path or a parent domain first")
	rp.Check("the visitor's session goes on (its visit counter grows) and no Set-Cookie replaces it, in either order")
	visit := func(cookie string) (int, string) {
		c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		req, _ := http.NewRequest(http.MethodGet, p.base+"/demo/session?hold=0s", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a struct {
			Visits int `json:"visits"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			t.Fatalf("/demo/session: %d: %v", resp.StatusCode, err)
		}
		set := ""
		for _, ck := range resp.Cookies() {
			if ck.Name == "lifeline_session" {
				set = ck.Value
			}
		}
		return a.Visits, set
	}
	_, id := visit("")
	if id == "" {
		t.Fatal("the first visit set no session cookie")
	}
	planted := strings.Repeat("A", 32) // well formed, never issued
	visits := []int{}
	for i, cookie := range []string{
		"lifeline_session=" + planted + "; lifeline_session=" + id,
		"lifeline_session=" + id + "; lifeline_session=" + planted,
		"lifeline_session=" + url.QueryEscape("not an id") + "; lifeline_session=" + id,
	} {
		n, set := visit(cookie)
		visits = append(visits, n)
		if n != i+2 || set != "" {
			t.Errorf("visit with %q: visits %d, Set-Cookie %q; want %d and none (the valid session kept)", cookie, n, set, i+2)
		}
	}
	rp.Figure("visit counter with a planted cookie (first visit 1)", "%v; no Set-Cookie replaced the session", visits)
}

// clip shortens a body for an error message.
func clip(s string) string {
	if len(s) <= 200 {
		return s
	}
	return s[:200] + "..."
}
