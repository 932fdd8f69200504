package status_test

import (
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
)

func TestDebugLab(t *testing.T) {
	l := newLab(t)
	stream, _ := l.open(t, "/stream")
	line, err := stream.ReadString('\n')
	t.Logf("%q %v", line, err)
	t0 := time.Now()
	l.get(t, "/report?id=7")
	t.Log("report", time.Since(t0))
	l.open(t, "/cart")
	t.Log("cart", time.Since(t0))
	l.get(t, "/stuck")
	t.Log("stuck", time.Since(t0))
	l.get(t, "/products?page=2")
	l.get(t, "/slow")
	t.Log("slow", time.Since(t0))
	for _, ri := range l.pool.Active() {
		t.Logf("%+v", ri)
	}
	_ = lifeline.PhaseRunning
}
