package browsertest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if a goroutine of package status, of the run
// engine or of the browser driver outlives the tests (net/http's afterTest
// idea): every goroutine has an owner, a stop and a wait.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := leakedGoroutines(); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines outlived the tests:\n%s", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

func leakedGoroutines() string {
	var leaked string
	for range 100 {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		leaked = ""
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "lifeline-go/lifeline/status.") ||
				strings.Contains(g, "lifeline-go/lifeline.runSide.execute") ||
				strings.Contains(g, "lifeline-go/lifeline.(*route).ServeHTTP") ||
				strings.Contains(g, "github.com/chromedp/") {
				leaked += g + "\n\n"
			}
		}
		if leaked == "" {
			return ""
		}
		time.Sleep(10 * time.Millisecond)
	}
	return leaked
}
