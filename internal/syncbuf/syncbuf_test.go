package syncbuf_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/lifeline-go/lifeline/internal/syncbuf"
)

// TestConcurrentWrites: writers on many goroutines and a reader at the same
// time (run with -race) lose no write and split none.
func TestConcurrentWrites(t *testing.T) {
	var b syncbuf.Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				fmt.Fprintf(&b, "w%d-%d\n", i, j)
				_ = b.String()
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines, want 800", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "w") || strings.Count(l, "-") != 1 {
			t.Fatalf("line %q was split or merged", l)
		}
	}
}
