package status_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/status"
)

// fields returns a SectionFunc that returns fs.
func fields(fs ...status.Field) status.SectionFunc {
	return func(context.Context) ([]status.Field, error) { return fs, nil }
}

// sectionsOf decodes the sections of a JSON response.
func sectionsOf(t *testing.T, w *httptest.ResponseRecorder) []status.Section {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var snap status.Snapshot
	if err := json.Unmarshal(w.Body.Bytes(), &snap); err != nil {
		t.Fatalf("decoding %s: %v", w.Body, err)
	}
	return snap.Sections
}

var errIDText = regexp.MustCompile(`^section unavailable \(id ([0-9a-f]{16})\)$`)

// TestSections: the sections' fields are in the JSON (?json and
// ?json&full) and on the page, in option order; a failing, panicking or
// silent section shows an error id, logged with the detail that the client
// never sees, and the other sections and the page are served.
func TestSections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool, err := lifeline.NewPool(lifeline.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Shutdown(context.Background())
		var logs syncBuffer
		release := make(chan struct{})
		defer close(release)
		h, err := status.New(pool, status.WithLogger(textLogger(&logs, slog.LevelInfo)),
			status.WithSection("jobs", fields(status.Field{Name: "available", Value: "3"}, status.Field{Name: "retryable", Value: "1"})),
			status.WithSection("store", func(context.Context) ([]status.Field, error) {
				return nil, errors.New("dial tcp 10.9.8.7:5432: connection refused")
			}),
			status.WithSection("cache", func(context.Context) ([]status.Field, error) { panic("cache map is nil at 0xdeadbeef") }),
			status.WithSection("slow", func(ctx context.Context) ([]status.Field, error) {
				<-ctx.Done() // honours its context
				return nil, ctx.Err()
			}),
			status.WithSection("deaf", func(context.Context) ([]status.Field, error) {
				<-release // ignores its context: the page does not wait for it
				return []status.Field{{Name: "late", Value: "1"}}, nil
			}),
			status.WithSection("empty", fields()),
		)
		if err != nil {
			t.Fatal(err)
		}
		for _, target := range []string{"/status?json", "/status?json&full"} {
			start := time.Now()
			got := sectionsOf(t, get(h, target))
			if d := time.Since(start); d != status.DefaultSectionTimeout {
				t.Errorf("%s took %v, want the section timeout %v", target, d, status.DefaultSectionTimeout)
			}
			names := make([]string, len(got))
			for i, s := range got {
				names[i] = s.Name
			}
			if strings.Join(names, ",") != "jobs,store,cache,slow,deaf,empty" {
				t.Fatalf("%s: sections %q, want them in option order", target, names)
			}
			if s := got[0]; s.Error != "" || len(s.Fields) != 2 || s.Fields[0] != (status.Field{Name: "available", Value: "3"}) || s.Fields[1].Name != "retryable" {
				t.Errorf("%s: jobs = %+v, want available 3, retryable 1", target, s)
			}
			for _, s := range got[1:5] {
				m := errIDText.FindStringSubmatch(s.Error)
				if m == nil || len(s.Fields) != 0 {
					t.Errorf("%s: section %s = %+v, want no field and an error id", target, s.Name, s)
					continue
				}
				if !strings.Contains(logs.String(), "id="+m[1]) || !strings.Contains(logs.String(), "section="+s.Name) {
					t.Errorf("the log lacks the id %s of section %s:\n%s", m[1], s.Name, logs.String())
				}
			}
			if s := got[5]; s.Error != "" || s.Fields == nil || len(s.Fields) != 0 {
				t.Errorf("%s: empty = %+v, want no field and no error", target, s)
			}
		}
		for _, detail := range []string{"10.9.8.7:5432", "connection refused", "cache map is nil", "no answer in 1s"} {
			if !strings.Contains(logs.String(), detail) {
				t.Errorf("the log lacks %q:\n%s", detail, logs.String())
			}
		}

		w := get(h, "/status")
		page := w.Body.String()
		if w.Code != http.StatusOK {
			t.Fatalf("page: status %d", w.Code)
		}
		for _, want := range []string{
			`<section class="app" data-section="jobs" aria-label="jobs">`,
			`<dt>available</dt><dd data-field="available">3</dd>`,
			`<dt>retryable</dt><dd data-field="retryable">1</dd>`,
			`<p class="section-error" hidden></p>`,
			`<section class="app" data-section="deaf" aria-label="deaf">`,
		} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %s", want)
			}
		}
		if n := len(regexp.MustCompile(`<p class="section-error">section unavailable \(id [0-9a-f]{16}\)</p>`).FindAllString(page, -1)); n != 4 {
			t.Errorf("page shows %d section errors, want 4 (store, cache, slow, deaf)", n)
		}
		for _, leak := range []string{"10.9.8.7", "refused", "deadbeef", "deadline"} {
			if strings.Contains(page+get(h, "/status?json&full").Body.String(), leak) {
				t.Errorf("the client sees %q", leak)
			}
		}
	})
}

// TestSectionContext: a section's function gets the request's values in a
// context bounded by the section timeout, and stops being waited for when
// the client leaves.
func TestSectionContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool, err := lifeline.NewPool(lifeline.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Shutdown(context.Background())
		type key struct{}
		var gotValue atomic.Value
		var left atomic.Int64
		h, err := status.New(pool, status.WithLogger(slog.New(slog.DiscardHandler)), status.WithSectionTimeout(300*time.Millisecond),
			status.WithSection("ctx", func(ctx context.Context) ([]status.Field, error) {
				gotValue.Store(ctx.Value(key{}))
				dl, ok := ctx.Deadline()
				if !ok {
					return nil, errors.New("no deadline")
				}
				left.Store(int64(time.Until(dl)))
				return []status.Field{{Name: "ok", Value: "yes"}}, nil
			}))
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodGet, "/status?json", nil)
		r.Host, r.RemoteAddr = "localhost", "127.0.0.1:40000"
		r = r.WithContext(context.WithValue(r.Context(), key{}, "request"))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := sectionsOf(t, w); len(got) != 1 || got[0].Error != "" {
			t.Fatalf("sections = %+v, want ctx without error", got)
		}
		if v := gotValue.Load(); v != "request" {
			t.Errorf("the function's context value = %v, want the request's", v)
		}
		if d := time.Duration(left.Load()); d != 300*time.Millisecond {
			t.Errorf("the function's deadline is %v away, want the section timeout 300ms", d)
		}

		// The client leaves: the page stops waiting at once. The call
		// goes on to its timeout, for the requests that may join it.
		var slowErr atomic.Value
		slowEnded := make(chan time.Time, 1)
		h2, err := status.New(pool, status.WithLogger(slog.New(slog.DiscardHandler)),
			status.WithSection("slow", func(ctx context.Context) ([]status.Field, error) {
				<-ctx.Done()
				slowErr.Store(ctx.Err())
				slowEnded <- time.Now()
				return nil, ctx.Err()
			}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		r = httptest.NewRequest(http.MethodGet, "/status?json", nil).WithContext(ctx)
		r.Host, r.RemoteAddr = "localhost", "127.0.0.1:40000"
		time.AfterFunc(10*time.Millisecond, cancel)
		start := time.Now()
		h2.ServeHTTP(httptest.NewRecorder(), r)
		if d := time.Since(start); d != 10*time.Millisecond {
			t.Errorf("the page waited %v for a client that left after 10ms", d)
		}
		if d := (<-slowEnded).Sub(start); d != status.DefaultSectionTimeout || slowErr.Load() != context.DeadlineExceeded {
			t.Errorf("the function's context ended after %v (%v), want at the section timeout %v", d, slowErr.Load(), status.DefaultSectionTimeout)
		}
	})
}

// TestSectionAccess: the sections are behind the access rule; a refused
// client never makes their functions run.
func TestSectionAccess(t *testing.T) {
	pool := newPool(t)
	var calls atomic.Int64
	h, err := status.New(pool, status.WithSection("jobs", func(context.Context) ([]status.Field, error) {
		calls.Add(1)
		return []status.Field{{Name: "available", Value: "1"}}, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, host, remote string
		header             []string
		code               int
	}{
		{name: "remote client", host: "localhost", remote: "192.0.2.7:5000", code: http.StatusForbidden},
		{name: "rebound host", host: "evil.example", remote: "127.0.0.1:5000", code: http.StatusForbidden},
		{name: "forwarded", host: "localhost", remote: "127.0.0.1:5000", header: []string{"X-Forwarded-For", "192.0.2.7"}, code: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, target := range []string{"/status", "/status?json"} {
				r := httptest.NewRequest(http.MethodGet, target, nil)
				r.Host, r.RemoteAddr = tt.host, tt.remote
				for i := 0; i+1 < len(tt.header); i += 2 {
					r.Header.Set(tt.header[i], tt.header[i+1])
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != tt.code || strings.Contains(w.Body.String(), "available") {
					t.Errorf("%s: %d %q, want %d without the section", target, w.Code, w.Body, tt.code)
				}
			}
		})
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the section's function ran %d times for refused clients", n)
	}
	get(h, "/status?json")
	if n := calls.Load(); n != 1 {
		t.Errorf("the section's function ran %d times for one allowed request, want 1", n)
	}
}

// TestSectionEscapes: names and values are text on the page.
func TestSectionEscapes(t *testing.T) {
	pool := newPool(t)
	h, err := status.New(pool, status.WithSection("jobs", fields(
		status.Field{Name: `<img src=x onerror=alert(1)>`, Value: `</dd><script>alert(2)</script>`},
		status.Field{Name: `a"b`, Value: `"><b>`},
	)))
	if err != nil {
		t.Fatal(err)
	}
	page := get(h, "/status").Body.String()
	for _, bad := range []string{"<img src=x", "<script>alert(2)", `"><b>`, `data-field="a"b"`} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains unescaped %q", bad)
		}
	}
	if !strings.Contains(page, `&lt;/dd&gt;&lt;script&gt;alert(2)&lt;/script&gt;`) {
		t.Errorf("page lacks the escaped value")
	}
}

func TestSectionOptions(t *testing.T) {
	pool := newPool(t)
	ok := fields()
	tests := []struct {
		name string
		opts []status.Option
		want error
	}{
		{name: "one", opts: []status.Option{status.WithSection("jobs", ok)}},
		{name: "two", opts: []status.Option{status.WithSection("jobs", ok), status.WithSection("Mail queue-2.b_c", ok)}},
		{name: "64 characters", opts: []status.Option{status.WithSection(strings.Repeat("a", 64), ok)}},
		{name: "timeout", opts: []status.Option{status.WithSectionTimeout(time.Millisecond)}},
		{name: "nil function", opts: []status.Option{status.WithSection("jobs", nil)}, want: status.ErrInvalidOption},
		{name: "empty name", opts: []status.Option{status.WithSection("", ok)}, want: status.ErrInvalidOption},
		{name: "65 characters", opts: []status.Option{status.WithSection(strings.Repeat("a", 65), ok)}, want: status.ErrInvalidOption},
		{name: "quote in name", opts: []status.Option{status.WithSection(`a"b`, ok)}, want: status.ErrInvalidOption},
		{name: "newline in name", opts: []status.Option{status.WithSection("a\nb", ok)}, want: status.ErrInvalidOption},
		{name: "non-ASCII name", opts: []status.Option{status.WithSection("jöbs", ok)}, want: status.ErrInvalidOption},
		{name: "same name twice", opts: []status.Option{status.WithSection("jobs", ok), status.WithSection("jobs", ok)}, want: status.ErrInvalidOption},
		{name: "zero timeout", opts: []status.Option{status.WithSectionTimeout(0)}, want: status.ErrInvalidOption},
		{name: "negative timeout", opts: []status.Option{status.WithSectionTimeout(-time.Second)}, want: status.ErrInvalidOption},
		{name: "nil option after a section", opts: []status.Option{status.WithSection("jobs", ok), nil}, want: status.ErrInvalidOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := status.New(pool, tt.opts...)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("New: err = %v, want %v", err, tt.want)
			}
		})
	}
	_, err := status.New(pool, status.WithSection("jobs", ok), nil)
	if err == nil || !strings.Contains(err.Error(), "option 2 is nil") {
		t.Errorf("New with a nil second option: err = %v, want it to name option 2", err)
	}
}

// String returns everything written, without consuming it.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRecentNotes: the recent-runs table shows a run's notes
// (lifeline.Run.Annotate), such as the job it enqueued, escaped.
func TestRecentNotes(t *testing.T) {
	pool := newPool(t)
	h := pool.Middleware(lifeline.WithRoute("order"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		rn.Annotate("job", "email 42")
		rn.Annotate("order", "<o-1> placed")
	}))
	get(h, "/order")
	waitFor(t, "the order's record", func() bool { return len(pool.Recent()) == 1 })
	st, err := status.New(pool)
	if err != nil {
		t.Fatal(err)
	}
	id := pool.Recent()[0].ID
	page := get(st, "/status").Body.String()
	want := `<td data-col="notes">job: email 42 · order: &lt;o-1&gt; placed</td></tr>`
	row := regexp.MustCompile(fmt.Sprintf(`<tr data-id="%d"[^>]*>.*?</tr>`, id)).FindString(page)
	if !strings.HasSuffix(row, want) {
		t.Errorf("recent row of run %d = %s, want it to end with %s", id, row, want)
	}
	if !strings.Contains(page, `<th data-key="notes" data-fmt="notes">`) {
		t.Error("the recent-runs table has no notes column")
	}
}
