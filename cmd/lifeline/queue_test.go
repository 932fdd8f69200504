package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/syncbuf"
	"github.com/lifeline-go/lifeline/status"
)

// seedJob inserts, in the SQLite database of the data directory dir (no
// server running), a /demo/finish job that works for work and that River
// attempts at most maxAttempts times: with a -job-timeout shorter than
// work, it fails each attempt.
func seedJob(t *testing.T, dir string, work time.Duration, maxAttempts int) int64 {
	t.Helper()
	ctx := context.Background()
	db, err := openDatabase(ctx, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.close()
	client, err := river.NewClient(newDriver(db), &river.Config{}) // insert only: no workers
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.Insert(ctx, finishArgs{workArgs{Work: work}}, &river.InsertOpts{MaxAttempts: maxAttempts})
	if err != nil {
		t.Fatal(err)
	}
	return res.Job.ID
}

// queueView is the job queue as /status?json, /status and /metrics show it.
type queueView struct {
	json, html, metrics map[string]string
}

var (
	htmlField  = regexp.MustCompile(`<dd data-field="([a-z]+)">([0-9]+)</dd>`)
	metricLine = regexp.MustCompile(`(?m)^lifeline_jobs\{state="([a-z]+)"\} ([0-9]+)$`)
)

// readQueue reads the "jobs" section of /status?json and /status, and
// lifeline_jobs of /metrics.
func readQueue(t *testing.T, ts *testServer, c *http.Client) queueView {
	t.Helper()
	v := queueView{json: map[string]string{}, html: map[string]string{}, metrics: map[string]string{}}
	var snap status.Snapshot
	resp := get(t, c, ts.base+"/status?json")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/status?json: %s %s", resp.Status, resp.body)
	}
	if err := json.Unmarshal([]byte(resp.body), &snap); err != nil {
		t.Fatalf("/status?json: %v", err)
	}
	for _, s := range snap.Sections {
		if s.Name != "jobs" {
			continue
		}
		if s.Error != "" {
			t.Fatalf("jobs section: %s", s.Error)
		}
		var names []string
		for _, f := range s.Fields {
			v.json[f.Name] = f.Value
			names = append(names, f.Name)
		}
		if got := strings.Join(names, ","); got != "available,running,retryable,scheduled,discarded,completed,cancelled" {
			t.Fatalf("jobs section fields %s, want River's seven states", got)
		}
	}
	page := get(t, c, ts.base+"/status")
	_, jobs, ok := strings.Cut(page.body, `<section class="app" data-section="jobs"`)
	if !ok {
		t.Fatalf("/status has no jobs section:\n%.2000s", page.body)
	}
	jobs, _, _ = strings.Cut(jobs, "</section>")
	for _, m := range htmlField.FindAllStringSubmatch(jobs, -1) {
		v.html[m[1]] = m[2]
	}
	for _, m := range metricLine.FindAllStringSubmatch(get(t, c, ts.base+"/metrics").body, -1) {
		v.metrics[m[1]] = m[2]
	}
	return v
}

// The status page shows River's queue by state, in HTML and JSON, with the
// same counts as the metrics: a job that completed, one that fails and
// waits for its retry, one discarded after its last attempt. The records of
// the runs that enqueued jobs name them in the recent-runs table.
func TestStatusShowsJobQueue(t *testing.T) {
	dir := t.TempDir()
	discarded := seedJob(t, dir, time.Minute, 1) // its one attempt times out
	ts := startServer(t, "-data", dir, "-job-timeout", "1s", "-status-query-strings")
	c := newClient(t, "HTTP/1.1")

	fin := get(t, c, ts.base+"/demo/finish?work=0s")
	var finJob int64
	if _, err := fmt.Sscanf(fin.body[strings.Index(fin.body, "(job "):], "(job %d:", &finJob); err != nil {
		t.Fatalf("no job id in %q: %v", fin.body, err)
	}
	// The order's email takes a minute: each attempt times out and River
	// schedules a retry.
	if resp := do(t, c, http.MethodPost, ts.base+"/demo/order?work=0s&email=1m&ref=slow-mail", nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("order: %s %s", resp.Status, resp.body)
	}
	var ord order
	eventually(t, 10*time.Second, "the order's email job", func() bool {
		var ok bool
		ord, ok = findOrder(t, ts, "slow-mail")
		return ok && ord.Job != 0
	})

	want := map[string]string{"available": "0", "running": "0", "retryable": "1", "scheduled": "0",
		"discarded": "1", "completed": "1", "cancelled": "0"}
	var v queueView
	eventually(t, 20*time.Second, "the queue to show 1 completed, 1 retryable, 1 discarded", func() bool {
		v = readQueue(t, ts, c)
		return fmt.Sprint(v.json) == fmt.Sprint(want) && fmt.Sprint(v.html) == fmt.Sprint(want) && fmt.Sprint(v.metrics) == fmt.Sprint(want)
	})
	for id, state := range map[int64]string{discarded: "discarded", finJob: "completed", ord.Job: "retryable"} {
		if j, ok := findJob(t, ts, id); !ok || j.State != state {
			t.Errorf("job %d = %+v, want %s", id, j, state)
		}
	}

	// The runs' records name the jobs they enqueued, on the page.
	page := get(t, c, ts.base+"/status").body
	for _, note := range []string{fmt.Sprintf("job: finish %d", finJob), fmt.Sprintf("job: email %d", ord.Job)} {
		if !regexp.MustCompile(`<td data-col="notes">[^<]*` + regexp.QuoteMeta(note) + `[^<]*</td>`).MatchString(page) {
			t.Errorf("the recent-runs table has no notes cell with %q", note)
		}
	}
}

// A database the section cannot read shows as an error id on the page,
// which is still served, and the detail goes to the log only.
func TestJobsSectionDown(t *testing.T) {
	db, err := openDatabase(context.Background(), t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.close(); err != nil {
		t.Fatal(err)
	}
	a := &app{db: db}
	if _, err := a.jobsSection(context.Background()); err == nil {
		t.Fatal("jobsSection on a closed database: no error")
	}
	pool, err := lifeline.NewPool()
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Shutdown(context.Background())
	var logs syncbuf.Buffer
	st, err := status.New(pool, status.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), status.WithSection("jobs", a.jobsSection))
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/status", "/status?json"} {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r.Host, r.RemoteAddr = "localhost", "127.0.0.1:40000"
		w := httptest.NewRecorder()
		st.ServeHTTP(w, r)
		m := regexp.MustCompile(`section unavailable \(id ([0-9a-f]{16})\)`).FindStringSubmatch(w.Body.String())
		if w.Code != http.StatusOK || m == nil {
			t.Fatalf("%s: %d, want 200 with the section's error id:\n%.2000s", target, w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), "database is closed") {
			t.Errorf("%s: the client sees the database error", target)
		}
		if !strings.Contains(logs.String(), "id="+m[1]) || !strings.Contains(logs.String(), "database is closed") {
			t.Errorf("the log lacks id %s with the detail:\n%s", m[1], logs.String())
		}
	}
}
