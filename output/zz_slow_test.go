package output_test

import (
	"math/rand"
	"os"
	"testing"
	"time"
)

func TestZZSlow(t *testing.T) {
	if os.Getenv("ZZSLOW") == "" {
		t.Skip()
	}
	r := rand.New(rand.NewSource(1))
	for iter := 0; iter < 3000; iter++ {
		n := r.Intn(400)
		data := make([]byte, n)
		r.Read(data)
		done := make(chan struct{})
		go func() {
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				os.WriteFile("/tmp/slow_input.bin", data, 0o644)
				panic("slow input saved")
			}
		}()
		start := time.Now()
		h := newFuzzHarness(t)
		for i, ops := 0, 0; i < len(data) && ops < 300; ops++ {
			op := data[i] % 17
			arg := func(k int) byte {
				if i+k < len(data) {
					return data[i+k]
				}
				return 0
			}
			i += h.step(op, arg(1), arg(2), arg(3))
			h.compare(op)
		}
		h.compareErr("final EndAll", h.s.EndAll(), h.m.endAll())
		h.compare(255)
		h.compareEnd()
		close(done)
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Logf("iter %d: %v len %d", iter, d, n)
		}
	}
}
