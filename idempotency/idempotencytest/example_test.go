package idempotencytest_test

import (
	"testing"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/idempotency/idempotencytest"
	"github.com/lifeline-go/lifeline/idempotency/memstore"
)

// ExampleRun is the whole conformance test of a store package: put the
// function below in its _test.go file. (Compiled, not run: it needs the
// *testing.T of a real test.)
func ExampleRun() {
	_ = func(t *testing.T) { // func TestConformance(t *testing.T)
		idempotencytest.Run(t, func(t *testing.T) idempotency.Store {
			s, err := memstore.New()
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	}
}

// ExampleRunConcurrency checks a store under 50 identical requests sent at
// once, beside the conformance test. (Compiled, not run: it needs the
// *testing.T of a real test.)
func ExampleRunConcurrency() {
	_ = func(t *testing.T) { // func TestConcurrentDuplicates(t *testing.T)
		idempotencytest.RunConcurrency(t, func(t *testing.T) idempotency.Store {
			s, err := memstore.New()
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	}
}
