package reliability

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// getJSON GETs url with a fresh connection and decodes its JSON answer.
func getJSON(t testing.TB, url string, v any) {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v: %s", url, resp.StatusCode, err, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}

// waitIdle polls the status page until no run is active, for at most d.
func waitIdle(t testing.TB, base string, d time.Duration) statusSnapshot {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var snap statusSnapshot
		getJSON(t, base+"/status?json", &snap)
		if snap.ActiveRuns == 0 {
			return snap
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d runs still active after %v", snap.ActiveRuns, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func fmtStatus(s statusSnapshot) string {
	return fmt.Sprintf("accepted %d, ended %d %v, aborts %v, time-limit hits %d, runaway %d, panics %d",
		s.AcceptedRuns, s.EndedRuns, s.EndedByStatus, s.AbortsByCause, s.TimeLimitHits, s.RunawayTotal, s.HandlerPanics)
}
