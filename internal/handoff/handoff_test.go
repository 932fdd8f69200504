package handoff_test

import (
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/handoff"
)

func TestPercentile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		var d []time.Duration
		for _, v := range n {
			d = append(d, time.Duration(v)*time.Millisecond)
		}
		return d
	}
	tests := []struct {
		d    []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 99, 0},
		{ms(5), 50, 5 * time.Millisecond},
		{ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{ms(4, 1, 3, 2), 100, 4 * time.Millisecond},
		{ms(4, 1, 3, 2), 0, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := handoff.Percentile(tt.d, tt.p); got != tt.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tt.d, tt.p, got, tt.want)
		}
	}
}
