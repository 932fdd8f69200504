package finishlat

import (
	"context"
	"testing"
	"time"
)

func TestMeasure(t *testing.T) {
	res, err := Measure(context.Background(), Settings{Requests: 5, Work: 20 * time.Millisecond, BodySize: 3000})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(res.Series), len(Servers)*len(Variants); got != want {
		t.Fatalf("got %d series, want %d", got, want)
	}
	for _, s := range res.Series {
		if len(s.Samples) != 5 {
			t.Errorf("%s: %d samples, want 5", s.Name, len(s.Samples))
		}
		t.Logf("%s: %v", s.Name, s.Samples)
	}
	for _, v := range Variants {
		if f := res.Reuse[Lifeline+"/"+v].Fraction(); f != 1 {
			t.Errorf("Lifeline %s: reuse %v, want 1: Finish leaves the connection reusable", v, f)
		}
		if f := res.Reuse[Recipe+"/"+v].Fraction(); f != 0 {
			t.Errorf("recipe %s: reuse %v, want 0: Connection: close", v, f)
		}
	}
}

func TestBody(t *testing.T) {
	for _, n := range []int{1, 100, 4000} {
		if got := len(Body(n)); got != n {
			t.Errorf("len(Body(%d)) = %d", n, got)
		}
	}
}

func TestReuseFraction(t *testing.T) {
	tests := []struct {
		r    Reuse
		want float64
	}{
		{Reuse{Requests: 1000, Reused: 999}, 1},
		{Reuse{Requests: 1000, Reused: 0}, 0},
		{Reuse{Requests: 1, Reused: 0}, 0},
	}
	for _, tt := range tests {
		if got := tt.r.Fraction(); got != tt.want {
			t.Errorf("%+v.Fraction() = %v, want %v", tt.r, got, tt.want)
		}
	}
}
