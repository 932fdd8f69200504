package conformance

import (
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// Tests of the harness itself: the comparison that decides whether the
// suite passes, and the facts it compares.

func factsOf(kv ...string) facts {
	var f facts
	for i := 0; i+1 < len(kv); i += 2 {
		f.set(kv[i], kv[i+1])
	}
	return f
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name     string
		php, ll  facts
		diffs    []diff
		problems []string // substrings, one per expected problem
	}{
		{name: "same", php: factsOf("a", "1"), ll: factsOf("a", "1")},
		{name: "informational ignored", php: factsOf("i.time", "1"), ll: factsOf("i.time", "2")},
		{name: "sub-run informational ignored", php: factsOf("b:i.wait", "1"), ll: factsOf("b:i.wait", "2")},
		{name: "undeclared", php: factsOf("a", "1"), ll: factsOf("a", "2"), problems: []string{"a: undeclared difference"}},
		{name: "missing on one side", php: factsOf("a", "1"), ll: factsOf(),
			problems: []string{`a: undeclared difference: PHP "1", Lifeline "(none)"`}},
		{name: "declared", php: factsOf("a", "1"), ll: factsOf("a", "2"),
			diffs: []diff{{fact: "a", php: "1", lifeline: "2", verdict: better}}},
		{name: "declared, other values", php: factsOf("a", "1"), ll: factsOf("a", "3"),
			diffs:    []diff{{fact: "a", php: "1", lifeline: "2", verdict: better}},
			problems: []string{`a: declared PHP "1" / Lifeline "2", observed PHP "1" / Lifeline "3"`}},
		{name: "declared, not observed", php: factsOf("a", "1"), ll: factsOf("a", "1"),
			diffs:    []diff{{fact: "a", php: "1", lifeline: "2", verdict: better, reason: "r"}},
			problems: []string{"a: declared different (r) but both sides show"}},
		{name: "declared on no fact", php: factsOf(), ll: factsOf(),
			diffs:    []diff{{fact: "z", php: "1", lifeline: "2"}},
			problems: []string{"z: declared difference on a fact neither side showed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := compare(tt.php, tt.ll, tt.diffs)
			if len(got) != len(tt.problems) {
				t.Fatalf("compare() = %q, want %d problems like %q", got, len(tt.problems), tt.problems)
			}
			for i, want := range tt.problems {
				if !strings.Contains(got[i], want) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], want)
				}
			}
		})
	}
}

func TestOverall(t *testing.T) {
	tests := []struct {
		diffs []diff
		want  verdict
	}{
		{nil, same},
		{[]diff{{verdict: better}}, better},
		{[]diff{{verdict: better}, {verdict: different}}, different},
	}
	for _, tt := range tests {
		if got := overall(tt.diffs); got != tt.want {
			t.Errorf("overall(%v) = %v, want %v", tt.diffs, got, tt.want)
		}
	}
}

func TestDeriveFacts(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) float64 { return float64(t0.Add(d).UnixMicro()) / 1e6 }
	evs := []event{
		{Run: "s.php", T: at(0), K: "mark", V: "start"},
		{Run: "s.php", T: at(10 * time.Millisecond), K: "wait", V: "leave"},
		{Run: "s.php/b", T: at(20 * time.Millisecond), K: "lock", V: "waited"},
		{Run: "s.php", T: at(500 * time.Millisecond), K: "mark", V: "end"},
	}
	resp := func(done time.Duration) *response {
		return &response{code: 200, header: http.Header{"X-A": {"1"}}, body: []byte("hi"), framing: "length",
			end: "ok", done: t0.Add(done)}
	}
	tests := []struct {
		name string
		obs  clientObs
		want map[string]string
	}{
		{name: "complete at the end", obs: clientObs{resp: resp(510 * time.Millisecond), reuse: "yes",
			reused: t0.Add(520 * time.Millisecond)},
			want: map[string]string{"complete": "after-end", "reuse": "yes", "http": "200", "body": `"hi"`,
				"hdr.X-A": "1", "coding": "-", "mark": "start,end", "b:lock": "waited"}},
		{name: "early, reused at once", obs: clientObs{resp: resp(100 * time.Millisecond), reuse: "yes",
			reused: t0.Add(110 * time.Millisecond)},
			want: map[string]string{"complete": "before-end", "reuse": "yes"}},
		{name: "early, reuse waited for the run", obs: clientObs{resp: resp(100 * time.Millisecond), reuse: "yes",
			reused: t0.Add(600 * time.Millisecond)},
			want: map[string]string{"complete": "before-end", "reuse": "after-end"}},
		{name: "closed", obs: clientObs{resp: resp(100 * time.Millisecond), reuse: "closed"},
			want: map[string]string{"reuse": "closed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := deriveFacts("s.php", tt.obs, evs, []string{"X-A"})
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				if got, _ := f.get(k); got != want {
					t.Errorf("fact %s = %q, want %q (all: %s)", k, got, want, f.String())
				}
			}
			if slices.Contains(f.keys, "wait") {
				t.Errorf("harness event wait shown as a fact: %s", f.String())
			}
		})
	}
	t.Run("harness error", func(t *testing.T) {
		bad := append(slices.Clone(evs), event{Run: "s.php", K: "error", V: "signal never came"})
		if _, err := deriveFacts("s.php", clientObs{}, bad, nil); err == nil {
			t.Error("deriveFacts with an error event succeeded")
		}
	})
}

func TestRenderBody(t *testing.T) {
	tests := []struct {
		body string
		want string
	}{
		{"", `""`},
		{"ready\n", `"ready\n"`},
		{strings.Repeat("x", 49), "49 bytes"},
		{"\x1f\x8b", "2 bytes"},
	}
	for _, tt := range tests {
		if got := renderBody([]byte(tt.body)); got != tt.want {
			t.Errorf("renderBody(%q) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

func TestFactsShow(t *testing.T) {
	f := factsOf("i.wrote", "1,2,3,4,5,6,7", "mark", "1,2,3,4,5,6,7")
	if got, want := f.show("i.wrote"), "1,2,…,7 (7)"; got != want {
		t.Errorf("show(i.wrote) = %q, want %q", got, want)
	}
	if got, want := f.show("mark"), "1,2,3,4,5,6,7"; got != want {
		t.Errorf("show(mark) = %q, want %q (compared facts are shown whole)", got, want)
	}
}

func TestEventLog(t *testing.T) {
	path := t.TempDir() + "/events.log"
	l, err := openEventLog(path)
	if err != nil {
		t.Fatal(err)
	}
	l.write("r", "mark", "a")
	l.write("r/b", "lock", "waited")
	l.write("other", "mark", "x")
	l.write("r-ping", "mark", "y") // a run whose id merely starts with r
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	// A line still being written (no newline yet) is left out.
	if err := appendFile(path, `{"run":"r","t":1,"k":"mark","v":"par`); err != nil {
		t.Fatal(err)
	}
	evs, err := readEvents(path, "r")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Run+" "+e.K+"="+e.V)
	}
	want := []string{"r mark=a", "r/b lock=waited"}
	if !slices.Equal(got, want) {
		t.Errorf("readEvents = %q, want %q", got, want)
	}
	if e, err := waitEvent(t.Context(), path, "r/b", "lock", "waited"); err != nil || e.V != "waited" {
		t.Errorf("waitEvent = %v, %v", e, err)
	}
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	return errors.Join(err, f.Close())
}

func TestGroupDiffs(t *testing.T) {
	got := groupDiffs([]diff{
		{fact: "http", verdict: different, reason: "r1"},
		{fact: "framing", verdict: better, reason: "r2"},
		{fact: "body", verdict: different, reason: "r1"},
	})
	want := []string{"http, body (different): r1", "framing (better): r2"}
	if !slices.Equal(got, want) {
		t.Errorf("groupDiffs = %q, want %q", got, want)
	}
}
