package status_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/status"
)

// TestSectionHungUnderLoad: a section's function that ignores its context
// and hangs, under many concurrent page requests over a real socket (a
// client hammering /status?json), runs once at a time: the requests that
// come while it runs wait for that call instead of starting their own, so
// neither its goroutines nor the work it does (a database query) grow with
// the requests. Each request is answered within the section timeout with
// the section unavailable; once the function returns, the next request
// calls it again and gets its fields.
func TestSectionHungUnderLoad(t *testing.T) {
	pool := newPool(t)
	release := make(chan struct{})
	var running, most, calls atomic.Int64
	h, err := status.New(pool, status.WithLogger(slog.New(slog.DiscardHandler)),
		status.WithSectionTimeout(50*time.Millisecond),
		status.WithSection("hung", func(context.Context) ([]status.Field, error) {
			calls.Add(1)
			n := running.Add(1)
			defer running.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-release // ignores its context
			return []status.Field{{Name: "n", Value: "1"}}, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()

	fetch := func() (status.Section, error) {
		resp, err := srv.Client().Get(srv.URL + "/status?json")
		if err != nil {
			return status.Section{}, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return status.Section{}, err
		}
		if resp.StatusCode != http.StatusOK {
			return status.Section{}, fmt.Errorf("status %d: %s", resp.StatusCode, b)
		}
		var snap status.Snapshot
		if err := json.Unmarshal(b, &snap); err != nil || len(snap.Sections) != 1 {
			return status.Section{}, fmt.Errorf("sections of %s: %v", b, err)
		}
		return snap.Sections[0], nil
	}
	const clients, each = 20, 5
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for range each {
				s, err := fetch()
				if err != nil {
					t.Error(err)
					return
				}
				if s.Error == "" {
					t.Errorf("hung section answered %+v", s)
				}
			}
		})
	}
	wg.Wait()
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("%d requests took %v", clients*each, d)
	}
	if m, c := most.Load(), calls.Load(); m != 1 || c != 1 {
		t.Errorf("%d requests while the function hung: %d calls, at most %d at once; want 1, 1", clients*each, c, m)
	}

	close(release)
	released = true
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := fetch()
		if err != nil {
			t.Fatal(err)
		}
		if s.Error == "" {
			if len(s.Fields) != 1 || s.Fields[0].Value != "1" {
				t.Errorf("fields after the release %+v", s.Fields)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still unavailable after the function returned: %+v", s)
		}
	}
}
