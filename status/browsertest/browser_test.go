package browsertest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/testenv"
	"github.com/lifeline-go/lifeline/status"
)

// chromiumPath is Debian's chromium, which `make deps` installs
// (scripts/deps.sh). Without it the test skips, or fails under `make test`
// (LIFELINE_REQUIRE=all, package internal/testenv).
const chromiumPath = "/usr/bin/chromium"

// screenshotEnv names the file where TestBrowser also saves its screenshot,
// relative to the repository root: docs/STATUS.md makes docs/status.png
// with (cd status/browsertest && LIFELINE_SCREENSHOT=docs/status.png go test -run TestBrowser .).
const screenshotEnv = "LIFELINE_SCREENSHOT"

// newBrowser starts a headless Chromium with an empty profile in a
// temporary directory and returns a tab's context. The browser is stopped,
// and waited for, before the directory is removed.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	testenv.MustHaveExec(t, testenv.Chromium, "apt-get install -y chromium", chromiumPath)
	profile := t.TempDir()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelTab(); cancelAlloc() }) // runs before TempDir's removal
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return ctx
}

// step runs browser actions with a deadline of their own.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page, polling until it
// returns a truthy value.
func eval[T any](t *testing.T, ctx context.Context, what, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Poll[T](expr, chromedp.WithPollingInterval(20*time.Millisecond)))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// lab is a server with a Lifeline pool whose routes leave runs in every
// state the status page shows.
type lab struct {
	pool    *lifeline.Pool
	ts      *httptest.Server
	release chan struct{} // closed to let the long runs end

	available atomic.Int64 // the "jobs" section's available count
	mailDown  atomic.Bool  // the "mail" section fails
}

func newLab(t *testing.T) *lab {
	t.Helper()
	pool := newPool(t, lifeline.WithLogger(slog.New(slog.DiscardHandler)))
	l := &lab{pool: pool, release: make(chan struct{})}
	ticker := func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		rn.Annotate("job", "export <7>") // as a handler that enqueued a job does
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			fmt.Fprintf(w, "tick %d\n", i)
			_ = http.NewResponseController(w).Flush() // terminates the run once the client left
			select {
			case <-l.release:
				return
			case <-tick.C:
			case <-r.Context().Done():
				rn.Check()
			}
		}
	}
	wait := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush() // the client has its headers
		select {
		case <-l.release:
		case <-r.Context().Done():
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/stream", pool.Middleware(lifeline.WithRoute("stream"))(http.HandlerFunc(ticker)))
	mux.Handle("/export", pool.Middleware(lifeline.WithRoute("export"))(http.HandlerFunc(ticker)))
	mux.Handle("/report", pool.Middleware(lifeline.WithRoute("report"), lifeline.WithIgnoreUserAbort(true))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		fmt.Fprintln(w, "report queued")
		_ = rn.Finish() // the client has its answer; the run keeps working
		<-l.release
	})))
	mux.Handle("/cart", pool.Middleware(lifeline.WithRoute("cart"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		rn.Annotate("session", "locked #3f9a1c") // as package session does
		wait(w, r)
	})))
	mux.Handle("/stuck", pool.Middleware(lifeline.WithRoute("stuck"), lifeline.WithTimeLimit(100*time.Millisecond), lifeline.WithGracePeriod(100*time.Millisecond))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-l.release // ignores its time limit: runs away
	})))
	mux.Handle("/slow", pool.Middleware(lifeline.WithRoute("slow"), lifeline.WithTimeLimit(50*time.Millisecond))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		for {
			rn.Check()
			time.Sleep(5 * time.Millisecond)
		}
	})))
	mux.Handle("/products", pool.Middleware(lifeline.WithRoute("products"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "products")
	})))
	sh, err := status.New(pool, status.WithRefresh(200*time.Millisecond), status.WithPoolName("shop"),
		status.WithLogger(slog.New(slog.DiscardHandler)),
		status.WithSection("jobs", func(context.Context) ([]status.Field, error) {
			return []status.Field{
				{Name: "available", Value: strconv.FormatInt(l.available.Load(), 10)},
				{Name: "note", Value: `<b>not bold</b>`},
			}, nil
		}),
		status.WithSection("mail", func(context.Context) ([]status.Field, error) {
			if l.mailDown.Load() {
				return nil, errors.New("smtp 10.0.0.9: refused")
			}
			return []status.Field{{Name: "sent", Value: "5"}}, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/status", sh)

	l.ts = httptest.NewUnstartedServer(mux)
	pool.ConfigureServer(l.ts.Config)
	l.ts.Start()
	t.Cleanup(l.ts.Close)
	t.Cleanup(func() { close(l.release) }) // first: let the runs end
	return l
}

// run finds the live run of route, waiting for it.
func (l *lab) run(t *testing.T, route string, ok func(lifeline.RunInfo) bool) lifeline.RunInfo {
	t.Helper()
	var found lifeline.RunInfo
	waitFor(t, "a live "+route+" run", func() bool {
		for _, ri := range l.pool.Active() {
			if ri.Route == route && ok(ri) {
				found = ri
				return true
			}
		}
		return false
	})
	return found
}

// record finds the record of run id, waiting for it.
func (l *lab) record(t *testing.T, id uint64) lifeline.Record {
	t.Helper()
	var found lifeline.Record
	waitFor(t, fmt.Sprintf("the record of run %d", id), func() bool {
		for _, rec := range l.pool.Recent() {
			if rec.ID == id {
				found = rec
				return true
			}
		}
		return false
	})
	return found
}

// open starts a request and returns its body reader and a func that
// abandons it (the client closes the connection mid-stream).
func (l *lab) open(t *testing.T, path string) (*bufio.Reader, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := l.ts.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	return bufio.NewReader(resp.Body), cancel
}

func (l *lab) get(t *testing.T, path string) {
	t.Helper()
	resp, err := l.ts.Client().Get(l.ts.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// TestBrowser opens the status page in headless Chromium and checks, in the
// DOM, that it shows the live runs with their phases as they change, an
// aborted stream in the recent runs with status 1, and sorts on a click.
func TestBrowser(t *testing.T) {
	tab := newBrowser(t)
	l := newLab(t)

	// Runs in every state: streaming, finished early and still working,
	// holding a session lock, runaway; ended normally and by time limit.
	stream, _ := l.open(t, "/stream")
	if _, err := stream.ReadString('\n'); err != nil {
		t.Fatalf("reading /stream: %v", err)
	}
	l.get(t, "/report?id=7")
	l.open(t, "/cart")
	l.get(t, "/stuck") // answered 503 by the connection side once it ran away
	l.get(t, "/products?page=2")
	l.get(t, "/slow")
	streamRun := l.run(t, "stream", func(ri lifeline.RunInfo) bool { return ri.Phase == lifeline.PhaseRunning })
	reportRun := l.run(t, "report", func(ri lifeline.RunInfo) bool { return ri.Phase == lifeline.PhaseFinished })
	l.run(t, "stuck", func(ri lifeline.RunInfo) bool { return ri.Runaway })

	step(t, tab, "open /status", chromedp.Navigate(l.ts.URL+"/status"))
	eval[bool](t, tab, "the script's first refresh", `document.body.dataset.live === "on"`)

	cell := func(table string, id uint64, col string) string {
		return fmt.Sprintf(`document.querySelector('#%s tr[data-id="%d"] td[data-col="%s"]')`, table, id, col)
	}
	if got := eval[string](t, tab, "the stream's phase", cell("active", streamRun.ID, "phase")+`?.textContent`); got != "running" {
		t.Errorf("stream run phase = %q, want running", got)
	}
	if got := eval[string](t, tab, "the report's phase", cell("active", reportRun.ID, "phase")+`?.textContent`); got != "finished" {
		t.Errorf("report run phase = %q, want finished", got)
	}
	if got := eval[string](t, tab, "the report's URI", cell("active", reportRun.ID, "uri")+`?.textContent`); got != "/report" {
		t.Errorf("report run URI = %q, want /report (no query string)", got)
	}
	eval[bool](t, tab, "a runaway row", `document.querySelector('#active tr.runaway td[data-col="route"]')?.textContent === "stuck"`)
	eval[bool](t, tab, "the session tag", `!!document.querySelector('#active tr td[data-col="_flags"] .tag-session')`)

	// Live: the stream's elapsed time moves without a reload.
	before := eval[string](t, tab, "the stream's elapsed time", cell("active", streamRun.ID, "elapsed_ms")+`?.textContent`)
	eval[bool](t, tab, "the elapsed time to change", cell("active", streamRun.ID, "elapsed_ms")+`?.textContent !== `+jsString(before))
	if nav := eval[float64](t, tab, "navigation count", `performance.getEntriesByType("navigation").length`); nav != 1 {
		t.Errorf("the page reloaded (%v navigations): the script should refresh it in place", nav)
	}

	// The application's sections: their cells as served, refreshed in
	// place, values as text, a failure as an error id.
	field := func(section, name string) string {
		return fmt.Sprintf(`document.querySelector('section[data-section="%s"] dd[data-field="%s"]')`, section, name)
	}
	if got := eval[string](t, tab, "the jobs section's available cell", field("jobs", "available")+`?.textContent`); got != "0" {
		t.Errorf("jobs available = %q, want 0", got)
	}
	l.available.Store(7)
	eval[bool](t, tab, "the available cell to refresh to 7", field("jobs", "available")+`?.textContent === "7"`)
	if got := eval[string](t, tab, "the note cell", field("jobs", "note")+`?.textContent`); got != "<b>not bold</b>" {
		t.Errorf("jobs note = %q, want the markup as text", got)
	}
	if n := eval[float64](t, tab, "bold elements in sections", `document.querySelectorAll('section[data-section] b').length + 1`); n != 1 {
		t.Errorf("a section's value became markup (%v <b> elements)", n-1)
	}
	if got := eval[string](t, tab, "the mail section's sent cell", field("mail", "sent")+`?.textContent`); got != "5" {
		t.Errorf("mail sent = %q, want 5", got)
	}
	l.mailDown.Store(true)
	msg := eval[string](t, tab, "the mail section's error", `(() => { const p = document.querySelector('section[data-section="mail"] .section-error'); return !p.hidden && p.textContent; })()`)
	if !regexp.MustCompile(`^section unavailable \(id [0-9a-f]{16}\)$`).MatchString(msg) {
		t.Errorf("mail section error = %q, want section unavailable (id ...)", msg)
	}
	eval[bool](t, tab, "the mail section's fields to go", `!`+field("mail", "sent"))
	l.mailDown.Store(false)
	eval[bool](t, tab, "the mail section to recover", field("mail", "sent")+`?.textContent === "5" && document.querySelector('section[data-section="mail"] .section-error').hidden`)
	if nav := eval[float64](t, tab, "navigation count", `performance.getEntriesByType("navigation").length`); nav != 1 {
		t.Errorf("the page reloaded (%v navigations): the script should refresh the sections in place", nav)
	}

	// An aborted stream: the client closes the connection mid-stream.
	export, abandon := l.open(t, "/export?format=csv")
	if _, err := export.ReadString('\n'); err != nil {
		t.Fatalf("reading /export: %v", err)
	}
	exportRun := l.run(t, "export", func(lifeline.RunInfo) bool { return true })
	abandon()
	rec := l.record(t, exportRun.ID)
	if rec.Status != lifeline.Aborted {
		t.Fatalf("export run status = %v, want aborted", rec.Status)
	}
	got := eval[string](t, tab, "the aborted run in recent runs", cell("recent", exportRun.ID, "status")+`?.textContent`)
	if !strings.HasPrefix(got, "1") {
		t.Errorf("aborted run status cell = %q, want 1 aborted", got)
	}
	eval[bool](t, tab, "the aborted row's class", `document.querySelector('#recent tr[data-id="`+fmt.Sprint(exportRun.ID)+`"]').classList.contains("aborted")`)
	eval[bool](t, tab, "the export run to leave the active runs", `!document.querySelector('#active tr[data-id="`+fmt.Sprint(exportRun.ID)+`"]')`)

	if got := eval[string](t, tab, "the aborted run's notes", cell("recent", exportRun.ID, "notes")+`?.textContent`); got != "job: export <7>" {
		t.Errorf("aborted run notes cell = %q, want the job it enqueued", got)
	}

	// page.js and columns.go render the same cells from the same record.
	checkTwins(t, tab, l, exportRun.ID)

	// Sorting on a click, kept in the URL, and kept across refreshes.
	ids := func() []float64 {
		return eval[[]float64](t, tab, "recent row ids", `Array.from(document.querySelectorAll('#recent tbody tr'), tr => Number(tr.dataset.id))`)
	}
	step(t, tab, "click the # column", chromedp.Click(chromedp.CSS(`#recent th[data-key="id"] a`)))
	if got := ids(); !slices.IsSorted(got) {
		t.Errorf("after one click, recent ids = %v, want ascending", got)
	}
	if loc := eval[string](t, tab, "the URL", `location.search`); loc != "?sort=recent.id" {
		t.Errorf("location.search = %q, want ?sort=recent.id", loc)
	}
	step(t, tab, "click the # column again", chromedp.Click(chromedp.CSS(`#recent th[data-key="id"] a`)))
	l.get(t, "/products?page=3") // a refresh with a new row keeps the order
	eval[bool](t, tab, "the new row", `document.querySelectorAll('#recent tbody tr').length === `+fmt.Sprint(len(l.pool.Recent())))
	if got := ids(); !slices.IsSortedFunc(got, func(a, b float64) int { return int(b - a) }) {
		t.Errorf("after two clicks, recent ids = %v, want descending", got)
	}
	step(t, tab, "sort by elapsed, descending", chromedp.Click(chromedp.CSS(`#active th[data-key="elapsed_ms"] a`)),
		chromedp.Click(chromedp.CSS(`#active th[data-key="elapsed_ms"] a`)))
	first := eval[string](t, tab, "the oldest live run", `document.querySelector('#active tbody tr td[data-col="route"]')?.textContent`)
	if first != "stream" {
		t.Errorf("longest-running live run = %q, want stream", first)
	}

	shot, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	saveScreenshot(t, shot)
}

// checkTwins compares the recent row of run id as page.js rendered it with
// the same row as the server renders it into the page (columns.go's
// formatters, what a client without JavaScript sees), parsed by the
// browser's DOMParser, which runs no script: the Go and the JavaScript
// renderings of one record agree cell for cell.
func checkTwins(t *testing.T, tab context.Context, l *lab, id uint64) {
	t.Helper()
	cells := func(doc string) string {
		return fmt.Sprintf(`Array.from(%s.querySelectorAll('#recent tr[data-id="%d"] td'), td => td.textContent)`, doc, id)
	}
	got := eval[[]string](t, tab, "the cells of the aborted run", cells("document"))
	resp, err := l.ts.Client().Do(mustRequest(t, l.ts.URL+"/status"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := eval[[]string](t, tab, "the server's cells of the aborted run",
		cells("new DOMParser().parseFromString("+jsString(string(page))+`, "text/html")`))
	if len(want) == 0 {
		t.Fatalf("run %d is not among the recent runs of the server-rendered page", id)
	}
	if !slices.Equal(got, want) {
		t.Errorf("page.js rendered %q, the server renders %q", got, want)
	}
}

func mustRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// saveScreenshot writes the PNG under t.TempDir(), and to the file that
// LIFELINE_SCREENSHOT names, if set (relative to the repository root).
func saveScreenshot(t *testing.T, png []byte) {
	t.Helper()
	paths := []string{filepath.Join(t.TempDir(), "status.png")}
	if p := os.Getenv(screenshotEnv); p != "" {
		if !filepath.IsAbs(p) {
			p = filepath.Join("..", "..", p) // tests run in status/browsertest/, two levels below the root
		}
		paths = append(paths, p)
	}
	for _, p := range paths {
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatalf("saving the screenshot: %v", err)
		}
		t.Logf("screenshot: %s (%d bytes)", p, len(png))
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
