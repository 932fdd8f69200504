package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sessionCall runs GET /demo/session with c and decodes the answer. It
// reports problems with t.Error, so any goroutine may call it.
func sessionCall(t *testing.T, c *http.Client, url string) sessionAnswer {
	t.Helper()
	resp, err := tryDo(c, http.MethodGet, url, nil)
	if err != nil {
		t.Error(err)
		return sessionAnswer{}
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s %q", url, resp.Status, resp.body)
		return sessionAnswer{}
	}
	var ans sessionAnswer
	if err := json.Unmarshal([]byte(resp.body), &ans); err != nil {
		t.Errorf("GET %s: %v in %q", url, err, resp.body)
	}
	return ans
}

// A second request of a session waits for the first one's lock, unless the
// first closed its session early (seed: session_write_close).
func TestSessionLock(t *testing.T) {
	eachProtocol(t, func(t *testing.T, ts *testServer, c *http.Client) {
		if first := sessionCall(t, c, ts.base+"/demo/session?hold=0s"); first.Visits != 1 {
			t.Fatalf("first visit = %d, want 1", first.Visits)
		}
		for _, tc := range []struct {
			name, close string
			waits       bool
			// hold is A's work. B must be answered within it when A
			// closed early: 3s leaves a loaded machine room to serve B.
			hold time.Duration
		}{
			{"held to the end", "0", true, 400 * time.Millisecond},
			{"closed early", "1", false, 3 * time.Second},
		} {
			hold := tc.hold
			t.Run(tc.name, func(t *testing.T) {
				ac := make(chan sessionAnswer, 1)
				go func() {
					ac <- sessionCall(t, c, fmt.Sprintf("%s/demo/session?hold=%v&close=%s", ts.base, hold, tc.close))
				}()
				state := "locked"
				if !tc.waits {
					state = "released"
				}
				waitActive(t, ts, "session", func(r runJSON) bool {
					return strings.Contains(r.URI, "close="+tc.close) && strings.HasPrefix(r.Notes["session"], state)
				})
				b := sessionCall(t, c, ts.base+"/demo/session?hold=0s")
				var a sessionAnswer
				select {
				case a = <-ac:
					if !tc.waits {
						t.Error("B was answered after A: it waited for A")
					}
				default: // A still works
					a = <-ac
				}
				if t.Failed() {
					return
				}
				aEnd := a.LockedAt.Add(hold)
				if tc.waits && b.LockedAt.Before(aEnd) {
					t.Errorf("B locked the session at %v, before A's work ended at %v", b.LockedAt, aEnd)
				}
				if !tc.waits && !b.LockedAt.Before(aEnd) {
					t.Errorf("B locked the session at %v, after A's work ended at %v: it waited", b.LockedAt, aEnd)
				}
				if b.Visits != a.Visits+1 {
					t.Errorf("visits: A %d, B %d; want B = A+1", a.Visits, b.Visits)
				}
			})
		}
	}, "-status-query-strings") // the runs are found by their query
}
