package browsertest

import (
	"testing"

	"github.com/lifeline-go/lifeline/internal/pooltest"
)

// TestMain fails the run if a goroutine of package status, of the run
// engine or of the browser driver outlives the tests (net/http's afterTest
// idea).
func TestMain(m *testing.M) {
	pooltest.Main(m, "lifeline-go/lifeline/status.", "github.com/chromedp/")
}
