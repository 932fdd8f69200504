package status_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/status"
)

// recentPool returns a pool whose ring holds one ended run per URI, in
// order (the last is the newest).
func recentPool(t *testing.T, uris ...string) *lifeline.Pool {
	t.Helper()
	pool := newPool(t)
	h := pool.Middleware(lifeline.WithRoute("echo"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", len(r.URL.Path))))
	}))
	for i, u := range uris {
		get(h, u)
		waitFor(t, "the record of "+u, func() bool { return len(pool.Recent()) == i+1 })
	}
	return pool
}

func TestFormats(t *testing.T) {
	pool := recentPool(t, "/a")
	h, err := status.New(pool)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		target     string
		wantType   string
		wantRecent bool // JSON with the run lists
	}{
		{target: "/status", wantType: "text/html; charset=utf-8"},
		{target: "/status?html", wantType: "text/html; charset=utf-8"},
		{target: "/status?json&html", wantType: "text/html; charset=utf-8"},
		{target: "/status?json", wantType: "application/json"},
		{target: "/status?json=1", wantType: "application/json"},
		{target: "/status?full&json", wantType: "application/json", wantRecent: true},
		{target: "/status?json&full", wantType: "application/json", wantRecent: true},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			w := get(h, tt.target)
			if w.Code != 200 {
				t.Fatalf("code = %d, want 200", w.Code)
			}
			if ct := w.Header().Get("Content-Type"); ct != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", ct, tt.wantType)
			}
			if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			if tt.wantType != "application/json" {
				if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'sha256-") {
					t.Errorf("Content-Security-Policy = %q, want a script hash", csp)
				}
				return
			}
			var doc map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			_, gotRecent := doc["recent"]
			_, gotActive := doc["active"]
			if gotRecent != tt.wantRecent || gotActive != tt.wantRecent {
				t.Errorf("recent present = %v, active present = %v, want %v", gotRecent, gotActive, tt.wantRecent)
			}
		})
	}

	for _, m := range []string{http.MethodPost, http.MethodDelete} {
		r := httptest.NewRequest(m, "/status", nil)
		r.Host, r.RemoteAddr = "localhost", "127.0.0.1:1"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: code = %d, Allow = %q, want 405 and GET, HEAD", m, w.Code, w.Header().Get("Allow"))
		}
	}
}

// TestStrictQuery: a malformed query, an unknown parameter or a sort that
// names no column gets 400, never a page built from what was understood
// (issue 19: url.ParseQuery's error for ';' was ignored).
func TestStrictQuery(t *testing.T) {
	pool := recentPool(t, "/a")
	h, err := status.New(pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		target string
		want   string // in the 400 body
	}{
		{target: "/status?json;full", want: "semicolon"},
		{target: "/status?json&full;x=1", want: "semicolon"},
		{target: "/status?json&full&%zz", want: "invalid URL escape"},
		{target: "/status?json&ful", want: `unknown parameter "ful"`},
		{target: "/status?token=x", want: `unknown parameter "token"`},
		{target: "/status?full=yes&json", want: `"full" takes no value`},
		{target: "/status?html=1", want: `"html" takes no value`},
		{target: "/status?sort=recent.nosuchkey", want: `sort "recent.nosuchkey"`},
		{target: "/status?sort=nosuchtable.id", want: `sort "nosuchtable.id"`},
		{target: "/status?sort=", want: `sort ""`},
	} {
		t.Run(tt.target, func(t *testing.T) {
			w := get(h, tt.target)
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), tt.want) {
				t.Errorf("code = %d %q, want 400 containing %q", w.Code, w.Body.String(), tt.want)
			}
			if strings.Contains(w.Body.String(), "accepted_runs") {
				t.Errorf("a refused query got the status: %q", w.Body.String())
			}
		})
	}
}

func TestQueryStrings(t *testing.T) {
	pool := recentPool(t, "/pay?card=4111111111111111&token=abc")
	tests := []struct {
		name string
		opts []status.Option
		want string
	}{
		{name: "default strips", want: "/pay"},
		{name: "WithQueryStrings(true)", opts: []status.Option{status.WithQueryStrings(true)}, want: "/pay?card=4111111111111111&token=abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := status.New(pool, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if got := h.Snapshot(true).Recent[0].URI; got != tt.want {
				t.Errorf("JSON uri = %q, want %q", got, tt.want)
			}
			page := get(h, "/status").Body.String()
			if strings.Contains(page, "4111") != strings.Contains(tt.want, "4111") {
				t.Errorf("page shows the query string: %v, want %v", !strings.Contains(tt.want, "4111"), strings.Contains(tt.want, "4111"))
			}
		})
	}
}

var rowIDs = regexp.MustCompile(`<tr data-id="(\d+)"`)

// TestSortWithoutJavaScript checks the server-side sort that the column
// links ask for, and the links themselves.
func TestSortWithoutJavaScript(t *testing.T) {
	pool := recentPool(t, "/ccc", "/a", "/bb")
	h, err := status.New(pool)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		query string
		want  []string // recent row IDs, top to bottom
	}{
		{query: "", want: []string{"3", "2", "1"}}, // newest first
		{query: "?sort=recent.id", want: []string{"1", "2", "3"}},
		{query: "?sort=-recent.id", want: []string{"3", "2", "1"}},
		{query: "?sort=recent.uri", want: []string{"2", "3", "1"}},
		{query: "?sort=-recent.bytes_sent", want: []string{"1", "3", "2"}},
		{query: "?sort=recent.id&sort=-recent.uri", want: []string{"1", "3", "2"}}, // the last wins
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			page := get(h, "/status"+tt.query).Body.String()
			var got []string
			for _, m := range rowIDs.FindAllStringSubmatch(page, -1) {
				got = append(got, m[1])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("rows = %v, want %v", got, tt.want)
			}
		})
	}
	page := get(h, "/status?sort=recent.id").Body.String()
	for _, want := range []string{
		`class="sorted-asc"><a href="?sort=-recent.id">#</a>`, // a second click reverses
		`<a href="?sort=active.id&amp;sort=recent.id">#</a>`,  // sorting the other table keeps this one
		`<a href="?sort=recent.uri">URI</a>`,                  // another column of the same table
		`<table id="recent" data-sort="id">`,                  // page.js starts from the server's order
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestPageEscapes(t *testing.T) {
	pool := recentPool(t, `/<script>alert(1)</script>`)
	h, err := status.New(pool, status.WithPoolName(`pool"><img src=x>`))
	if err != nil {
		t.Fatal(err)
	}
	page := get(h, "/status").Body.String()
	for _, bad := range []string{"<script>alert", `"><img`} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains unescaped %q", bad)
		}
	}
}

func TestRefresh(t *testing.T) {
	pool := newPool(t)
	tests := []struct {
		name      string
		opts      []status.Option
		meta, bms string
	}{
		{name: "default", meta: `content="1"`, bms: `data-refresh-ms="1000"`},
		{name: "2.5s", opts: []status.Option{status.WithRefresh(2500 * time.Millisecond)}, meta: `content="3"`, bms: `data-refresh-ms="2500"`},
		{name: "250ms", opts: []status.Option{status.WithRefresh(250 * time.Millisecond)}, meta: `content="1"`, bms: `data-refresh-ms="250"`},
		{name: "off", opts: []status.Option{status.WithRefresh(0)}, bms: `data-refresh-ms="0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := status.New(pool, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			page := get(h, "/status").Body.String()
			hasMeta := strings.Contains(page, `http-equiv="refresh"`)
			if hasMeta != (tt.meta != "") || (tt.meta != "" && !strings.Contains(page, `<noscript><meta http-equiv="refresh" `+tt.meta+`></noscript>`)) {
				t.Errorf("meta refresh: want %q in a noscript element, page head:\n%s", tt.meta, page[:min(len(page), 600)])
			}
			if !strings.Contains(page, tt.bms) {
				t.Errorf("page lacks %s", tt.bms)
			}
		})
	}
}
