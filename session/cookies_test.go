package session_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lifeline-go/lifeline/session"
)

// TestTwoSessionCookies: with two lifeline_session cookies, the one that
// names a live session wins, whichever comes first; a bogus one never
// replaces the visitor's session (issue 19). PHP takes the first.
func TestTwoSessionCookies(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, newMemStore(t))
	s, rec := start(t, m, nil)
	if err := s.Set("user", "ann"); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteClose(ctx); err != nil {
		t.Fatal(err)
	}
	valid := sessionCookie(t, rec).Value
	const bogus1 = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB" // well-formed, unknown to the store
	const bogus2 = "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
	for _, tt := range []struct {
		name    string
		cookies []string
		want    string // "" = a new session
	}{
		{name: "bogus first", cookies: []string{bogus1, valid}, want: valid},
		{name: "valid first", cookies: []string{valid, bogus1}, want: valid},
		{name: "malformed first", cookies: []string{"not-an-id", valid}, want: valid},
		{name: "between two bogus", cookies: []string{bogus1, bogus2, valid}, want: valid},
		{name: "two bogus", cookies: []string{bogus1, bogus2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			newReq := func() *http.Request {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				for _, v := range tt.cookies {
					r.AddCookie(&http.Cookie{Name: "lifeline_session", Value: v})
				}
				return r
			}
			w := httptest.NewRecorder()
			s, err := m.Start(w, newReq())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Abort(ctx)
			switch {
			case tt.want != "" && s.ID() != tt.want:
				t.Errorf("Start: ID = %q, want the valid session %q", s.ID(), tt.want)
			case tt.want == "" && (s.ID() == bogus1 || s.ID() == bogus2):
				t.Errorf("Start adopted the unknown id %q", s.ID())
			}
			if user, _, _ := session.Value[string](s, "user"); tt.want != "" && user != "ann" {
				t.Errorf("Start: user = %q, want ann", user)
			}
			if set := w.Header().Get("Set-Cookie") != ""; set != (tt.want == "") {
				t.Errorf("Set-Cookie sent = %v, want %v", set, tt.want == "")
			}
			if err := s.Abort(ctx); err != nil {
				t.Fatal(err)
			}
			ro, err := m.StartReadOnly(newReq())
			if err != nil {
				t.Fatal(err)
			}
			if ro.ID() != tt.want {
				t.Errorf("StartReadOnly: ID = %q, want %q", ro.ID(), tt.want)
			}
		})
	}
}
