package status

import (
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseQuery feeds status URLs' query strings (client input) to the
// parser: it must not panic, must refuse what url.ParseQuery refuses (';'
// separators, bad escapes: issue 19), must keep only known tables and
// columns, and what it keeps must survive the round trip through the links
// it renders.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "json", "json&full", "full&json", "html&json", "sort=-active.elapsed_ms",
		"sort=recent.id&sort=-active._flags", "sort=%zz&json", "sort=active.id;json", "sort=-", "sort=.", "a=b&&&=&sort"} {
		f.Add(s)
	}
	tabs := tables()
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseQuery(raw)
		if _, perr := url.ParseQuery(raw); perr != nil && err == nil {
			t.Fatalf("parseQuery(%q) accepted what url.ParseQuery refuses: %v", raw, perr)
		}
		if err != nil {
			return
		}
		for id, s := range q.sorts {
			found := false
			for _, tb := range tabs {
				for _, c := range tb.Columns {
					found = found || (tb.ID == id && c.Key == s.Key)
				}
			}
			if !found {
				t.Fatalf("parseQuery(%q) kept unknown sort %s.%s", raw, id, s.Key)
			}
		}
		link := sortQuery(q.sorts, tabs)
		back, err := parseQuery(strings.TrimPrefix(link, "?"))
		if err != nil || !maps.Equal(back.sorts, q.sorts) {
			t.Fatalf("parseQuery(%q).sorts = %v, but its link %q parses to %v, %v", raw, q.sorts, link, back.sorts, err)
		}
	})
}

// FuzzBearer feeds Authorization headers (client input) to the token
// check: it must accept exactly the "Bearer <token>" forms.
func FuzzBearer(f *testing.F) {
	const token = "s3cr3t.T0ken"
	for _, s := range []string{"", "Bearer " + token, "bearer " + token, "Bearer  " + token, "Bearer " + token + " ",
		"Basic " + token, token, "Bearer", "Bearer ", "Bearer " + token[:4], "Bearer\t" + token} {
		f.Add(s)
	}
	o := defaultOptions()
	WithBearerToken(token).apply(&o)
	WithAllowedHosts("example.com").apply(&o)
	g := newAccess(&o)
	f.Fuzz(func(t *testing.T, auth string) {
		r, err := http.NewRequest(http.MethodGet, "http://example.com/status", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.RemoteAddr = "192.0.2.1:1"
		r.Header.Set("Authorization", auth)
		scheme, rest, _ := strings.Cut(auth, " ")
		want := strings.EqualFold(scheme, "bearer") && strings.TrimLeft(rest, " ") == token
		if got := g.Check(r) == nil; got != want {
			t.Fatalf("check(Authorization: %q) accepted = %v, want %v", auth, got, want)
		}
	})
}
