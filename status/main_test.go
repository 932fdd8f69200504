package status_test

import (
	"testing"

	"github.com/lifeline-go/lifeline/internal/pooltest"
)

// TestMain fails the run if a goroutine of this package or of the run engine
// outlives the tests (net/http's afterTest idea).
func TestMain(m *testing.M) { pooltest.Main(m, "lifeline-go/lifeline/status.") }
