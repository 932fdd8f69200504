package reliability

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// reportEnv names the directory where each scenario writes its figures as a
// Markdown fragment (scripts/reliability.sh assembles docs/RELIABILITY.md
// from them). Unset, nothing is written; the figures still go to t.Log.
const reportEnv = "LIFELINE_RELIABILITY_REPORT"

// report collects one scenario's figures: what ran (load, faults), what was
// checked, and the measured results.
type report struct {
	t     *testing.T
	id    string // file name, e.g. "R1-reference"
	title string
	start time.Time

	mu     sync.Mutex // guards the fields below
	load   []string
	faults []string
	checks []string
	rows   [][2]string
}

// newReport starts the report of t; it is written when t ends.
func newReport(t *testing.T, id, title string) *report {
	if raceEnabled {
		id, title = id+"-race", title+", with -race"
	}
	rp := &report{t: t, id: id, title: title, start: time.Now()}
	t.Cleanup(rp.write)
	return rp
}

func (rp *report) Load(format string, args ...any) {
	rp.add(&rp.load, fmt.Sprintf(format, args...))
}

func (rp *report) Fault(format string, args ...any) {
	rp.add(&rp.faults, fmt.Sprintf(format, args...))
}

func (rp *report) Check(format string, args ...any) {
	rp.add(&rp.checks, fmt.Sprintf(format, args...))
}

// Figure records one measured result.
func (rp *report) Figure(name, format string, args ...any) {
	v := fmt.Sprintf(format, args...)
	rp.mu.Lock()
	rp.rows = append(rp.rows, [2]string{name, v})
	rp.mu.Unlock()
	rp.t.Logf("%s: %s = %s", rp.id, name, v)
}

func (rp *report) add(list *[]string, s string) {
	rp.mu.Lock()
	*list = append(*list, s)
	rp.mu.Unlock()
}

// write renders the report to $LIFELINE_RELIABILITY_REPORT/<id>.md.
func (rp *report) write() {
	dir := os.Getenv(reportEnv)
	if dir == "" {
		return
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	var b strings.Builder
	result := "pass"
	if rp.t.Failed() {
		result = "**FAIL**"
	}
	fmt.Fprintf(&b, "### %s\n\n", rp.title)
	fmt.Fprintf(&b, "- Test: `%s` (mode: %s), %s, wall time %v\n", rp.t.Name(), mode(), result,
		time.Since(rp.start).Round(100*time.Millisecond))
	section := func(name string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(&b, "- %s:\n", name)
		for _, s := range items {
			fmt.Fprintf(&b, "  - %s\n", s)
		}
	}
	section("Load", rp.load)
	section("Faults", rp.faults)
	section("Checked", rp.checks)
	if len(rp.rows) > 0 {
		b.WriteString("\n| Figure | Value |\n| --- | --- |\n")
		for _, r := range rp.rows {
			fmt.Fprintf(&b, "| %s | %s |\n", r[0], strings.ReplaceAll(r[1], "|", "\\|"))
		}
	}
	b.WriteString("\n")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		rp.t.Errorf("report: %v", err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, rp.id+".md"), []byte(b.String()), 0o644); err != nil {
		rp.t.Errorf("report: %v", err)
	}
}
