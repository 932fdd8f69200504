package lifeline

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"
)

// timerArmed reports whether the run's time-limit timer has been armed
// (false while the run waits for the arming tick).
func timerArmed(rn *Run) bool {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return !rn.timerLate
}

// TestShortTimeLimitOnTime: a time limit shorter than the arming tick fires
// at the limit, not at the tick; one longer is armed by the tick and fires at
// the limit too.
func TestShortTimeLimitOnTime(t *testing.T) {
	for _, limit := range []time.Duration{time.Millisecond, 3 * time.Millisecond, armDelay, armDelay + time.Millisecond} {
		t.Run(limit.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, err := NewPool(WithTimeLimit(limit))
				if err != nil {
					t.Fatal(err)
				}
				var fired time.Duration
				h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					rn, _ := FromContext(r.Context())
					<-r.Context().Done()
					fired = time.Since(rn.start)
				}))
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
				if fired != limit {
					t.Errorf("the limit of %v fired after %v", limit, fired)
				}
				if err := p.Shutdown(t.Context()); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// TestLateArming: a run whose limit is longer than the arming tick and that
// ends before the tick never arms its timer; a short limit is armed at once.
func TestLateArming(t *testing.T) {
	tests := []struct {
		limit     time.Duration
		wantArmed bool
	}{
		{30 * time.Second, false},
		{armDelay + time.Millisecond, false},
		{armDelay, true},
		{time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.limit.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, err := NewPool(WithTimeLimit(tt.limit))
				if err != nil {
					t.Fatal(err)
				}
				var armed bool
				h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					rn, _ := FromContext(r.Context())
					armed = timerArmed(rn)
				}))
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
				if armed != tt.wantArmed {
					t.Errorf("timer armed at the run's start: %v, want %v", armed, tt.wantArmed)
				}
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				defer cancel()
				if err := p.Shutdown(ctx); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}
