package lifeline

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// TestJudge feeds the silence check sequences of TCP_INFO readings, one per
// check interval, and compares its verdicts. The adversarial cases are the
// live peers of issue 13 §1: a zero receive window whose probes are answered
// (between probes nothing is outstanding, and Last_ack_recv grows with the
// probes' backoff far past the timeout), a probe caught in flight with a
// stale Last_ack_recv, and data sent after a quiet spell.
func TestJudge(t *testing.T) {
	const (
		timeout = 4 * time.Second
		step    = timeout / 8
	)
	type reading struct {
		outstanding bool
		sinceAck    time.Duration
	}
	tests := []struct {
		name      string
		readings  []reading
		wantFirst int // index of the first silent verdict; -1 for none
	}{
		{
			name: "zero window, probes answered, last ack long ago",
			readings: []reading{
				{false, 5 * time.Second}, {false, 5500 * time.Millisecond}, {true, 6 * time.Second}, // probe in flight
				{false, 100 * time.Millisecond}, {false, 600 * time.Millisecond}, {false, 12 * time.Second},
			},
			wantFirst: -1,
		},
		{
			// The peer answers out-of-window segments at most every 500 ms
			// (tcp_invalid_ratelimit), so the early probes can go
			// unanswered for one probe interval.
			name: "probe left unanswered at two checks, the next answered",
			readings: []reading{
				{true, 6 * time.Second}, {true, 6500 * time.Millisecond}, {false, 10 * time.Millisecond},
			},
			wantFirst: -1,
		},
		{
			name: "data sent after a quiet spell, acknowledged",
			readings: []reading{
				{true, 10 * time.Second}, {true, 20 * time.Millisecond}, {true, 5 * time.Millisecond},
			},
			wantFirst: -1,
		},
		{
			name: "streaming to a live peer",
			readings: []reading{
				{true, time.Millisecond}, {true, 3 * time.Millisecond}, {true, 0}, {true, 2 * time.Millisecond},
				{true, time.Millisecond}, {true, 3 * time.Millisecond}, {true, 0}, {true, 2 * time.Millisecond},
				{true, time.Millisecond}, {true, 3 * time.Millisecond},
			},
			wantFirst: -1,
		},
		{
			name: "streaming, then the peer vanishes",
			readings: func() []reading {
				rs := []reading{{true, time.Millisecond}, {true, 2 * time.Millisecond}}
				for i := range 10 {
					rs = append(rs, reading{true, time.Duration(i+1) * step})
				}
				return rs
			}(),
			wantFirst: 2 + 7, // the reading with sinceAck = 8 steps = timeout
		},
		{
			name: "zero window, then the peer vanishes: probes unanswered",
			readings: func() []reading {
				rs := []reading{{false, 3 * time.Second}}
				for i := range 12 {
					rs = append(rs, reading{true, 3*time.Second + time.Duration(i+1)*step})
				}
				return rs
			}(),
			wantFirst: 1 + 8, // outstanding for the whole timeout
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cw := &connWatch{timeout: timeout}
			now := time.Unix(1000, 0)
			got := -1
			for i, r := range tt.readings {
				if cw.judge(r.outstanding, r.sinceAck, now) && got < 0 {
					got = i
				}
				now = now.Add(step)
			}
			if got != tt.wantFirst {
				t.Errorf("first silent verdict at reading %d, want %d", got, tt.wantFirst)
			}
		})
	}
}

// TestZeroWindowPeerIsAlive serves a client that stops reading (its receive
// window shuts, its kernel answers the window probes) for 3.5 times the
// dead-peer timeout, then reads the rest: the run must end Normal and the
// client must get every byte. The probes back off from 200 ms (0.2, 0.6,
// 1.4, 3.0, 6.2 s after the window shut), so between two of them the last
// acknowledgement is soon older than the timeout; the second probe is left
// unanswered for 0.8 s (the peer answers out-of-window segments at most
// every 500 ms). Only probes outstanding for the whole timeout tell silence.
func TestZeroWindowPeerIsAlive(t *testing.T) {
	const (
		timeout = 2 * time.Second
		size    = 16 << 20
		pause   = 7 * time.Second
	)
	p, err := NewPool(WithTimeLimit(0), WithStallTimeout(0))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 32<<10)
	h := p.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for off := 0; off < size; off += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	ts := httptest.NewUnstartedServer(h)
	p.ConfigureServerWith(ts.Config, ServerConfig{DeadPeerTimeout: timeout})
	ts.Start()
	t.Cleanup(ts.Close)
	t.Cleanup(func() { _ = p.Shutdown(t.Context()) })

	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.(*net.TCPConn).SetReadBuffer(256 << 10); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(pause) // the client's pause, not synchronisation
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != size {
		t.Fatalf("read %d of %d bytes: %v", n, size, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(p.Recent()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no record after 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if rec := p.Recent()[0]; rec.Status != Normal || rec.Cause != CauseNone {
		t.Errorf("record: Status %v, Cause %v; want Normal", rec.Status, rec.Cause)
	}
}
