package compress

import (
	"fmt"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/andybalholm/brotli"
)

func TestWindowRatio(t *testing.T) {
	for _, data := range [][]byte{jsonDoc(1 << 20), htmlPage(1 << 20), jsonDoc(4 << 20)} {
		for _, w := range []int{1 << 18, 1 << 20, 1 << 23} {
			for _, low := range []bool{false, true} {
				e, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(w), zstd.WithLowerEncoderMem(low))
				aw := &appendWriter{}
				t0 := time.Now()
				for range 5 {
					aw.b = aw.b[:0]
					e.Reset(aw)
					e.Write(data)
					e.Close()
				}
				fmt.Printf("len %d zstd w=%d low=%v: %d  %v\n", len(data), w, low, len(aw.b), time.Since(t0)/5)
			}
		}
		for _, lg := range []int{18, 20, 22} {
			aw := &appendWriter{}
			b := brotli.NewWriterOptions(aw, brotli.WriterOptions{Quality: 2, LGWin: lg})
			t0 := time.Now()
			b.Write(data)
			b.Close()
			fmt.Printf("len %d br2 lg=%d: %d %v\n", len(data), lg, len(aw.b), time.Since(t0))
		}
	}
}
