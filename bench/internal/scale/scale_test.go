package scale

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"
)

func TestMeasure(t *testing.T) {
	for _, mode := range []string{ModeLifeline, ModeGoroutine} {
		t.Run(mode, func(t *testing.T) {
			res, err := Measure(context.Background(), Settings{Mode: mode, Runs: 500, Deadline: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Held || res.InFlight != 500 || res.ShutdownRan != 500 || res.Note != "" {
				t.Errorf("%+v: want all 500 runs held, in flight and ended", res)
			}
			if res.RSSBefore <= 0 || res.RSSInFlight <= 0 {
				t.Errorf("RSS before %d, in flight %d: want both read", res.RSSBefore, res.RSSInFlight)
			}
			if res.Goroutines < 500 {
				t.Errorf("%d goroutines with 500 runs in flight", res.Goroutines)
			}
		})
	}
}

func TestMeasureBounds(t *testing.T) {
	// An RSS bound below the process's own size stops the ramp-up at once:
	// the runs are reported as not held, and everything still ends.
	res, err := Measure(context.Background(), Settings{Mode: ModeLifeline, Runs: 200_000, Deadline: 30 * time.Second, MaxRSS: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Held || res.Note == "" || res.InFlight == 200_000 {
		t.Errorf("%+v: want the ramp-up stopped by the RSS bound", res)
	}
	if res.ShutdownRan != int64(res.Served) {
		t.Errorf("%d shutdown functions ran for %d requests served", res.ShutdownRan, res.Served)
	}
}

func TestMeasureUsage(t *testing.T) {
	for _, s := range []Settings{
		{Mode: "nope", Runs: 1, Deadline: time.Second},
		{Mode: ModeLifeline, Runs: 0, Deadline: time.Second},
		{Mode: ModeLifeline, Runs: 1},
	} {
		if _, err := Measure(context.Background(), s); !errors.Is(err, ErrUsage) {
			t.Errorf("Measure(%+v) = %v, want ErrUsage", s, err)
		}
	}
}

func TestBytesPerRun(t *testing.T) {
	r := Result{InFlight: 1000, RSSBefore: 1 << 20, RSSInFlight: 1<<20 + 8_000_000}
	if got := r.BytesPerRun(); got != 8000 {
		t.Errorf("BytesPerRun = %v, want 8000", got)
	}
	if got := (Result{}).BytesPerRun(); got != 0 {
		t.Errorf("BytesPerRun of nothing = %v, want 0", got)
	}
}

func TestChildJSON(t *testing.T) {
	var out bytes.Buffer
	if err := Main(context.Background(), []string{"-mode", ModeGoroutine, "-runs", "100", "-deadline", "10s"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Held || res.Mode != ModeGoroutine {
		t.Errorf("Main printed %+v", res)
	}
	if err := Main(context.Background(), []string{"-bogus"}, io.Discard, io.Discard); !errors.Is(err, ErrUsage) {
		t.Errorf("Main(-bogus) = %v, want ErrUsage", err)
	}
}
