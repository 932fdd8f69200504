package status

import (
	"maps"
	"net/http"
	"strings"
	"testing"
)

// FuzzParseQuery feeds status URLs' query strings (client input) to the
// parser: it must not panic, must keep only known tables and columns, and
// what it keeps must survive the round trip through the links it renders.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "json", "json&full", "full&json", "html&json", "sort=-active.elapsed_ms",
		"sort=recent.id&sort=-active._flags", "sort=%zz&json", "sort=active.id;json", "sort=-", "sort=.", "a=b&&&=&sort"} {
		f.Add(s)
	}
	tabs := tables()
	f.Fuzz(func(t *testing.T, raw string) {
		q := parseQuery(raw)
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
		if back := parseQuery(strings.TrimPrefix(link, "?")).sorts; !maps.Equal(back, q.sorts) {
			t.Fatalf("parseQuery(%q).sorts = %v, but its link %q parses to %v", raw, q.sorts, link, back)
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
	WithBearerToken(token)(&o)
	g := newGuard(&o)
	f.Fuzz(func(t *testing.T, auth string) {
		r, err := http.NewRequest(http.MethodGet, "http://example.com/status", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.RemoteAddr = "192.0.2.1:1"
		r.Header.Set("Authorization", auth)
		scheme, rest, _ := strings.Cut(auth, " ")
		want := strings.EqualFold(scheme, "bearer") && strings.TrimLeft(rest, " ") == token
		if got := g.check(r) == 0; got != want {
			t.Fatalf("check(Authorization: %q) accepted = %v, want %v", auth, got, want)
		}
	})
}
