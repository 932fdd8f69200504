package idempotency_test

import (
	"testing"

	"github.com/lifeline-go/lifeline/idempotency"
	"github.com/lifeline-go/lifeline/idempotency/idempotencytest"
)

// TestConcurrentDuplicates is the double click multiplied: 50 identical
// POSTs with one key at once, with the memory store. The other stores run
// the same check in their own modules.
func TestConcurrentDuplicates(t *testing.T) {
	idempotencytest.RunConcurrency(t, func(t *testing.T) idempotency.Store { return newMem(t) })
}
