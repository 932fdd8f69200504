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
	n      atomic.Int64 // runs alive now, counted from their admission
	peak   atomic.Int64 // the most runs alive at once
	shards [liveShards]liveShard
}

const liveShards = 16

type liveShard struct {
	mu   sync.Mutex // guards head and the runs' live links
	head *Run       // a list through Run.liveNext and Run.livePrev
	_    [48]byte   // keep shards on separate cache lines
}

// reserve counts a run about to start, before the pool's closing is looked
// at again (see Pool.admit), and updates the peak.
func (s *liveSet) reserve() {
	n := s.n.Add(1)
	for {
		peak := s.peak.Load()
		if n <= peak || s.peak.CompareAndSwap(peak, n) {
			return
		}
	}
}

// add registers rn, reserved before.
func (s *liveSet) add(rn *Run) {
	sh := &s.shards[rn.id%liveShards]
	sh.mu.Lock()
	rn.liveNext = sh.head
	if sh.head != nil {
		sh.head.livePrev = rn
	}
	sh.head = rn
	sh.mu.Unlock()
}

// remove unregisters rn and returns how many runs are left.
func (s *liveSet) remove(rn *Run) int64 {
	sh := &s.shards[rn.id%liveShards]
	sh.mu.Lock()
	if rn.livePrev != nil {
		rn.livePrev.liveNext = rn.liveNext
	} else {
		sh.head = rn.liveNext
	}
	if rn.liveNext != nil {
		rn.liveNext.livePrev = rn.livePrev
	}
	rn.liveNext, rn.livePrev = nil, nil
	sh.mu.Unlock()
	return s.n.Add(-1)
}

// snapshot returns the live runs, in no order.
func (s *liveSet) snapshot() []*Run {
	runs := make([]*Run, 0, s.n.Load())
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for rn := sh.head; rn != nil; rn = rn.liveNext {
			runs = append(runs, rn)
		}
		sh.mu.Unlock()
	}
	return runs
}
