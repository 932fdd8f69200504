package status_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/status"
)

var update = flag.Bool("update", false, "rewrite testdata/schema.golden")

// mapPaths are the objects whose keys are data, not schema: their entries
// are listed as "{}".
var mapPaths = []string{".active[].notes", ".recent[].notes"}

// schemaOf lists every path of a JSON document with its type, one per
// line, sorted: ".active[].id number". Arrays are described by their
// elements, objects of mapPaths by their values.
func schemaOf(v any, path string, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		out[path+" object"] = true
		if slices.Contains(mapPaths, path) {
			for _, e := range x {
				schemaOf(e, path+"{}", out)
			}
			return
		}
		for k, e := range x {
			schemaOf(e, path+"."+k, out)
		}
	case []any:
		out[path+" array"] = true
		for _, e := range x {
			schemaOf(e, path+"[]", out)
		}
	case string:
		out[path+" string"] = true
	case float64:
		out[path+" number"] = true
	case bool:
		out[path+" boolean"] = true
	case nil:
		out[path+" null"] = true
	default:
		out[path+fmt.Sprintf(" %T", v)] = true
	}
}

func schema(t *testing.T, doc []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("decoding %s: %v", doc, err)
	}
	set := make(map[string]bool)
	schemaOf(v, "", set)
	lines := make([]string, 0, len(set))
	for l := range set {
		if strings.HasPrefix(l, " ") {
			l = "." + l // the root
		}
		lines = append(lines, l)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// TestJSONSchema pins the key set and the value types of ?json&full (the
// documented schema of docs/STATUS.md): a change breaks the clients that
// read it, so it must be deliberate (go test ./status -run TestJSONSchema
// -update) and documented.
func TestJSONSchema(t *testing.T) {
	pool := newPool(t)
	release := make(chan struct{})
	defer close(release)
	finished := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		rn.Annotate("session", "locked #a1b2c3")
		_, _ = w.Write([]byte("ok"))
		_ = rn.Finish()
		<-release
	}))
	plain := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		rn.Annotate("idempotency", "stored")
	}))
	get(finished, "/finished") // returns at Finish; the run goes on
	get(plain, "/plain")
	waitFor(t, "the plain run's record and the finished run", func() bool {
		active := pool.Active()
		return len(pool.Recent()) == 1 && len(active) == 1 && active[0].Phase == lifeline.PhaseFinished
	})

	h, err := status.New(pool, status.WithLogger(slog.New(slog.DiscardHandler)),
		status.WithSection("jobs", func(context.Context) ([]status.Field, error) {
			return []status.Field{{Name: "available", Value: "2"}}, nil
		}),
		status.WithSection("store", func(context.Context) ([]status.Field, error) {
			return nil, errors.New("unreachable")
		}))
	if err != nil {
		t.Fatal(err)
	}
	w := get(h, "/status?json&full")
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	got := schema(t, w.Body.Bytes())
	golden := filepath.Join("testdata", "schema.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./status -run TestJSONSchema -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("?json&full schema changed:\n--- got\n%s--- want (%s)\n%s", got, golden, want)
	}

	// ?json is the same document without the run lists.
	summary := schema(t, get(h, "/status?json").Body.Bytes())
	var wantSummary []string
	for _, l := range strings.Split(strings.TrimSpace(string(want)), "\n") {
		if !strings.HasPrefix(l, ".active ") && !strings.HasPrefix(l, ".active[") &&
			!strings.HasPrefix(l, ".recent ") && !strings.HasPrefix(l, ".recent[") {
			wantSummary = append(wantSummary, l)
		}
	}
	if summary != strings.Join(wantSummary, "\n")+"\n" {
		t.Errorf("?json schema = \n%s, want the golden without .active and .recent", summary)
	}
}

// TestPageKeysInSchema checks that every key the page renders (the columns
// that page.js reads from the JSON) is in the documented schema.
func TestPageKeysInSchema(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "schema.golden"))
	if err != nil {
		t.Fatal(err)
	}
	has := func(path string) bool {
		return strings.Contains(string(want), "\n"+path+" ") || strings.HasPrefix(string(want), path+" ")
	}
	for _, key := range status.SummaryKeys() {
		if !has("." + key) {
			t.Errorf("summary key %q is not in the schema", key)
		}
	}
	for _, table := range []string{"active", "recent"} {
		keys, _ := status.Columns(table)
		for _, key := range keys {
			if key != "_flags" && !has("."+table+"[]."+key) {
				t.Errorf("column %s.%s is not in the schema", table, key)
			}
		}
	}
}
