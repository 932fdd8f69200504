package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// A run past its time limit gets 503 and its record says timeout, whether
// it waits (sleep) or computes (spin).
func TestTimeout(t *testing.T) {
	eachProtocol(t, func(t *testing.T, ts *testServer, c *http.Client) {
		for _, mode := range []string{busySleep, busySpin} {
			t.Run(mode, func(t *testing.T) {
				resp := get(t, c, ts.base+"/demo/timeout?limit=100ms&busy=3s&mode="+mode)
				if resp.StatusCode != http.StatusServiceUnavailable {
					t.Fatalf("answer: %s %q, want 503", resp.Status, resp.body)
				}
				if resp.elapsed >= 2*time.Second {
					t.Errorf("answered after %v: the run was not stopped at its limit", resp.elapsed)
				}
				rec := waitRecord(t, ts, "timeout", func(r runJSON) bool { return strings.Contains(r.URI, "mode="+mode) })
				// rec.Code is not checked: the root package may record the run
				// before its connection side has answered 503 (see the report).
				if rec.Status != "timeout" || rec.StatusCode != 2 || rec.Notes["final-status"] != "timeout" || rec.Cause != "time-limit" {
					t.Errorf("record: status %q (%d), note %q, cause %q; want timeout (2), timeout, time-limit",
						rec.Status, rec.StatusCode, rec.Notes["final-status"], rec.Cause)
				}
			})
		}
		t.Run("within the limit", func(t *testing.T) {
			resp := get(t, c, ts.base+"/demo/timeout?limit=2s&busy=10ms")
			if resp.StatusCode != http.StatusOK {
				t.Errorf("answer: %s %q, want 200", resp.Status, resp.body)
			}
		})
	}, "-status-query-strings") // the runs are found by their query
}

// set_time_limit restarts the counter: the run outlives its first limit.
func TestTimeoutReset(t *testing.T) {
	eachProtocol(t, func(t *testing.T, ts *testServer, c *http.Client) {
		for _, tc := range []struct {
			name, query string
			code        int
		}{
			{"after < reset", "limit=200ms&reset=300ms&after=150ms", http.StatusOK},
			{"after > reset", "limit=200ms&reset=100ms&after=2s", http.StatusServiceUnavailable},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp := get(t, c, ts.base+"/demo/timeout-reset?"+tc.query)
				if resp.StatusCode != tc.code {
					t.Fatalf("answer: %s %q, want %d", resp.Status, resp.body, tc.code)
				}
				if tc.code == http.StatusOK && resp.elapsed < 300*time.Millisecond {
					t.Errorf("answered after %v: it should have outlived its first limit (150ms + 150ms of work)", resp.elapsed)
				}
			})
		}
	})
}
