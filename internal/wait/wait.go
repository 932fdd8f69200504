// Package wait is the one way the project's tests wait for something that
// happens on another goroutine or in another process and that cannot tell
// them when: a run's record stored just after its response, a log line, a
// server's descriptors going back to their baseline. It polls a condition
// with a bound; it asserts no timing. Where an event can be waited for
// (a channel, synctest.Wait), wait for it instead.
package wait

import (
	"testing"
	"time"
)

// Tick is how often the condition is polled.
const Tick = 5 * time.Millisecond

// Until polls cond every Tick until it holds or d has passed, and reports
// whether it held. cond is called at least once.
func Until(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	t := time.NewTicker(Tick)
	defer t.Stop()
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		<-t.C
	}
}

// For polls cond like [Until] and ends tb with Fatalf, naming what it waited
// for, when cond does not hold within d. Call it from the test's goroutine.
func For(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !Until(d, cond) {
		tb.Fatalf("after %v: still waiting for %s", d, what)
	}
}
