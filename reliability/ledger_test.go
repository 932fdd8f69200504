package reliability

import (
	"fmt"
	"sync"
	"time"

	"github.com/lifeline-go/lifeline"
)

// ledger is the in-process server's own account of its runs, by storm tag:
// which runs started, how many times their shutdown function ran, and with
// which status. The storm driver waits on it for a run to start before its
// client leaves, so that what the client did implies the status.
type ledger struct {
	mu       sync.Mutex // guards the fields below
	runs     map[uint64]*ledgerRun
	problems []string
}

type ledgerRun struct {
	route     string
	runID     uint64
	began     bool
	started   chan struct{} // closed when the run began
	shutdowns int
	status    lifeline.Status
	done      bool   // the handler's work completed (order committed, ignore route wrote every line)
	jobDone   bool   // finish route: the work after Finish completed
	note      string // route-specific, e.g. the job's end
	beganAt   time.Time
	endedAt   time.Time // when the shutdown function ran
}

func newLedger() *ledger { return &ledger{runs: make(map[uint64]*ledgerRun)} }

func (l *ledger) entryLocked(tag uint64) *ledgerRun {
	e := l.runs[tag]
	if e == nil {
		e = &ledgerRun{started: make(chan struct{})}
		l.runs[tag] = e
	}
	return e
}

// begin records the start of the run of tag.
func (l *ledger) begin(tag uint64, route string, runID uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entryLocked(tag)
	if e.began {
		l.problems = append(l.problems, fmt.Sprintf("tag %d: a second run (%d) began after run %d", tag, runID, e.runID))
		return
	}
	e.began, e.route, e.runID, e.beganAt = true, route, runID, time.Now()
	close(e.started)
}

// shutdown records one call of the run's shutdown function.
func (l *ledger) shutdown(tag uint64, st lifeline.Status) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entryLocked(tag)
	e.shutdowns++
	e.status = st
	e.endedAt = time.Now()
}

// mark sets a flag of the run of tag.
func (l *ledger) mark(tag uint64, f func(e *ledgerRun)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(l.entryLocked(tag))
}

// waitStarted blocks until the run of tag began, for at most d.
func (l *ledger) waitStarted(tag uint64, d time.Duration) bool {
	l.mu.Lock()
	ch := l.entryLocked(tag).started
	l.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// get returns a copy of the entry of tag, and whether a run began.
func (l *ledger) get(tag uint64) (ledgerRun, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.runs[tag]
	if e == nil {
		return ledgerRun{}, false
	}
	return *e, e.began
}

// count returns the number of runs that began.
func (l *ledger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.runs {
		if e.began {
			n++
		}
	}
	return n
}

func (l *ledger) problemList() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.problems...)
}
