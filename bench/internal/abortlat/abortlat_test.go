package abortlat

import (
	"context"
	"testing"
	"time"
)

func TestMeasure(t *testing.T) {
	series, err := Measure(context.Background(), Settings{Trials: 3, Cap: 300 * time.Millisecond, MaxMisses: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(series), 2*len(Cases); got != want {
		t.Fatalf("got %d series, want %d", got, want)
	}
	for _, s := range series {
		t.Logf("%s: %d samples, %d missed, %v", s.Name, len(s.Samples), s.Missed, s.Samples)
		if s.Name[:len(Lifeline)] == Lifeline && (len(s.Samples) != 3 || s.Missed != 0) {
			t.Errorf("%s: %d samples and %d misses, want 3 and 0: Lifeline notices every case", s.Name, len(s.Samples), s.Missed)
		}
	}
	// net/http never notices a close while the body is unread
	// (golang/go#23262): the baseline must miss it.
	for _, s := range series {
		if s.Name == NetHTTP+"/"+CaseUnreadPost && s.Missed == 0 {
			t.Errorf("%s: no miss; the baseline is expected to miss this case", s.Name)
		}
	}
}

func TestMeasureSettings(t *testing.T) {
	tests := []struct {
		name string
		s    Settings
	}{
		{"no trials", Settings{Cap: time.Second, MaxMisses: 1}},
		{"no cap", Settings{Trials: 1, MaxMisses: 1}},
		{"no misses", Settings{Trials: 1, Cap: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Measure(context.Background(), tt.s); err == nil {
				t.Errorf("Measure(%+v) = nil error, want ErrUsage", tt.s)
			}
		})
	}
}
