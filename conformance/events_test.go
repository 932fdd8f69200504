package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// event is one thing a server saw, one JSON line of an event log. PHP's
// testdata/php/_lib.php and the Go side's script write the same format.
type event struct {
	Run string  `json:"run"` // the X-Conformance-Run header of the request
	T   float64 `json:"t"`   // Unix time in seconds
	K   string  `json:"k"`
	V   string  `json:"v"`
}

// time returns the event's time.
func (e event) time() time.Time {
	return time.UnixMicro(int64(e.T * 1e6))
}

// eventLog appends events to a file; the Go side's writer. Safe for
// concurrent use.
type eventLog struct {
	mu sync.Mutex // guards f
	f  *os.File
}

func openEventLog(path string) (*eventLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("conformance: event log: %w", err)
	}
	return &eventLog{f: f}, nil
}

func (l *eventLog) write(run, k, v string) {
	line, err := json.Marshal(event{Run: run, T: float64(time.Now().UnixMicro()) / 1e6, K: k, V: v})
	if err != nil {
		return // a struct of strings and a float always marshals
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.f.Write(line)
}

func (l *eventLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// readEvents returns the events of run and of its sub-runs ("run/x") from
// the log at path, in file order. A last line without its newline is still
// being written and is left out.
func readEvents(path, run string) ([]event, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("conformance: read events: %w", err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	} else {
		data = nil
	}
	var evs []event
	for line := range bytes.Lines(data) {
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("conformance: event log %s: %w in %q", path, err, line)
		}
		if e.Run == run || strings.HasPrefix(e.Run, run+"/") {
			evs = append(evs, e)
		}
	}
	return evs, nil
}

// waitEvent polls the log at path until run (exactly) has logged k=v, and
// returns that event.
func waitEvent(ctx context.Context, path, run, k, v string) (event, error) {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		evs, err := readEvents(path, run)
		if err != nil {
			return event{}, err
		}
		for _, e := range evs {
			if e.Run == run && e.K == k && e.V == v {
				return e, nil
			}
		}
		select {
		case <-ctx.Done():
			return event{}, fmt.Errorf("waiting for %s event %s=%s: %w", run, k, v, context.Cause(ctx))
		case <-tick.C:
		}
	}
}
