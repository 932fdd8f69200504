package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/redistest"
)

// TestSessionHeldPastLockTTL: with -session-lock-ttl 1s, a request that
// holds its session three and a half times that long keeps its lock (the
// manager refreshes it every third of the TTL): a second request of the
// same session waits until the first one's work ended, and its visit
// counts after the first's, whether the sessions are in the database or
// in Redis.
func TestSessionHeldPastLockTTL(t *testing.T) {
	for _, store := range []string{"database", "redis"} {
		t.Run(store, func(t *testing.T) {
			flags := []string{"-session-lock-ttl", "1s"}
			if store == "redis" {
				flags = append(flags, "-redis", "redis://"+redistest.Start(t).Addr()+"/0")
			}
			ts := startServer(t, flags...)
			c := newClient(t, "HTTP/1.1")
			if first := sessionCall(t, c, ts.base+"/demo/session?hold=0s"); first.Visits != 1 {
				t.Fatalf("first visit = %d, want 1", first.Visits)
			}
			const hold = 3500 * time.Millisecond
			ac := make(chan sessionAnswer, 1)
			go func() { ac <- sessionCall(t, c, fmt.Sprintf("%s/demo/session?hold=%v", ts.base, hold)) }()
			waitActive(t, ts, "session", func(r runJSON) bool { return strings.HasPrefix(r.Notes["session"], "locked") })
			b := sessionCall(t, c, ts.base+"/demo/session?hold=0s")
			a := <-ac
			if t.Failed() {
				return
			}
			if end := a.LockedAt.Add(hold); b.LockedAt.Before(end) {
				t.Errorf("B locked the session at %v, before A's work ended at %v: A's lock expired under it", b.LockedAt, end)
			}
			if a.Visits != 2 || b.Visits != 3 {
				t.Errorf("visits: A %d, B %d; want 2 and 3", a.Visits, b.Visits)
			}
		})
	}
}
