package lifeline

import (
	"sync"
	"sync/atomic"
)

// liveSet is the registry of a pool's live runs, for [Pool.Active] and
// [Pool.Shutdown]. It is split into shards by run ID, each with its own
// lock, so that starting and ending runs on many goroutines do not all wait
// for one lock; the pool-wide lock is left to the end of a run (its record).
type liveSet struct {
	n      atomic.Int64 // runs alive now
	peak   atomic.Int64 // the most runs alive at once
	shards [liveShards]liveShard
}

const liveShards = 16

type liveShard struct {
	mu   sync.Mutex // guards runs
	runs map[*Run]struct{}
	_    [40]byte // keep shards on separate cache lines
}

// add registers rn and updates the peak.
func (s *liveSet) add(rn *Run) {
	sh := &s.shards[rn.id%liveShards]
	sh.mu.Lock()
	if sh.runs == nil {
		sh.runs = make(map[*Run]struct{})
	}
	sh.runs[rn] = struct{}{}
	sh.mu.Unlock()
	n := s.n.Add(1)
	for {
		peak := s.peak.Load()
		if n <= peak || s.peak.CompareAndSwap(peak, n) {
			return
		}
	}
}

// remove unregisters rn and returns how many runs are left.
func (s *liveSet) remove(rn *Run) int64 {
	sh := &s.shards[rn.id%liveShards]
	sh.mu.Lock()
	delete(sh.runs, rn)
	sh.mu.Unlock()
	return s.n.Add(-1)
}

// snapshot returns the live runs, in no order.
func (s *liveSet) snapshot() []*Run {
	runs := make([]*Run, 0, s.n.Load())
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for rn := range sh.runs {
			runs = append(runs, rn)
		}
		sh.mu.Unlock()
	}
	return runs
}
