package wait_test

import (
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/wait"
)

func TestUntil(t *testing.T) {
	n := 0
	if !wait.Until(10*time.Second, func() bool { n++; return n == 3 }) || n != 3 {
		t.Errorf("Until stopped after %d calls, want 3 and true", n)
	}
	calls := 0
	if wait.Until(0, func() bool { calls++; return false }) || calls != 1 {
		t.Errorf("Until(0, false) called cond %d times, want once and false", calls)
	}
}

func TestFor(t *testing.T) {
	done := make(chan bool)
	go func() {
		ft := &fakeTB{TB: t}
		defer func() { recover(); done <- ft.failed }()
		wait.For(ft, 0, "nothing", func() bool { return false })
	}()
	if !<-done {
		t.Error("For did not fail when cond never held")
	}
	wait.For(t, time.Second, "true", func() bool { return true })
}

// fakeTB records Fatalf instead of ending the test.
type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}
