package server

import (
	"testing"
	"time"
)

func TestNewDeadPeer(t *testing.T) {
	tests := []struct {
		d                  time.Duration
		idle, interval     time.Duration
		count              int
		wantKeepAliveTotal time.Duration // idle + count*interval
	}{
		{d: 0},
		{d: 2 * time.Second, idle: time.Second, interval: time.Second, count: 1, wantKeepAliveTotal: 2 * time.Second},
		{d: 2500 * time.Millisecond, idle: time.Second, interval: time.Second, count: 2, wantKeepAliveTotal: 3 * time.Second},
		{d: 5 * time.Second, idle: 2 * time.Second, interval: time.Second, count: 3, wantKeepAliveTotal: 5 * time.Second},
		{d: 10 * time.Second, idle: 4 * time.Second, interval: 2 * time.Second, count: 3, wantKeepAliveTotal: 10 * time.Second},
		{d: 30 * time.Second, idle: 12 * time.Second, interval: 6 * time.Second, count: 3, wantKeepAliveTotal: 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.d.String(), func(t *testing.T) {
			dp := newDeadPeer(tt.d)
			ka := dp.keepAlive
			if tt.d == 0 {
				if dp != (deadPeer{}) {
					t.Fatalf("newDeadPeer(0) = %+v, want the zero value", dp)
				}
				return
			}
			if !ka.Enable || ka.Idle != tt.idle || ka.Interval != tt.interval || ka.Count != tt.count {
				t.Errorf("newDeadPeer(%v).keepAlive = %+v, want idle %v interval %v count %d", tt.d, ka, tt.idle, tt.interval, tt.count)
			}
			if got := ka.Idle + time.Duration(ka.Count)*ka.Interval; got != tt.wantKeepAliveTotal {
				t.Errorf("keep-alive gives up after %v, want %v", got, tt.wantKeepAliveTotal)
			}
		})
	}
}

// TestNewDeadPeerSchedule checks, for every whole-second timeout up to two
// minutes, that the keep-alive schedule gives up no earlier than d and less
// than one interval after it, with at least one probe. With no
// TCP_USER_TIMEOUT (issue 13 §1), the kernel drops a silent idle peer after
// idle + count × interval.
func TestNewDeadPeerSchedule(t *testing.T) {
	for d := MinDeadPeerTimeout; d <= 2*time.Minute; d += time.Second {
		dp := newDeadPeer(d)
		ka := dp.keepAlive
		total := ka.Idle + time.Duration(ka.Count)*ka.Interval
		if total < d || total >= d+ka.Interval || ka.Count < 1 || ka.Idle < time.Second || ka.Interval < time.Second {
			t.Errorf("newDeadPeer(%v).keepAlive = %+v: gives up after %v", d, ka, total)
		}
	}
}

func TestH2Ping(t *testing.T) {
	tests := []struct {
		d, send, answer time.Duration
	}{
		{d: 0},
		{d: 5 * time.Second, send: 2 * time.Second, answer: 3 * time.Second},
		{d: time.Second, send: 400 * time.Millisecond, answer: 600 * time.Millisecond},
	}
	for _, tt := range tests {
		send, answer := h2Ping(tt.d)
		if send != tt.send || answer != tt.answer {
			t.Errorf("h2Ping(%v) = %v, %v; want %v, %v", tt.d, send, answer, tt.send, tt.answer)
		}
	}
}
