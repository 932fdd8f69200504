package status

import (
	"slices"

	"github.com/lifeline-go/lifeline"
)

// follower finds the records that ended since its last poll of
// [lifeline.Pool.Recent]. The ring keeps records in the order runs ended, so
// the records newer than the newest one seen last time are the new ones; if
// that one has been evicted, every record in the ring is new. A follower is
// not safe for concurrent use.
//
// Without a [Feed] on the pool's lifeline.WithRunEnded, polling is the only
// way: records evicted from the ring between two polls are missed. poll
// counts them as the runs the pool counts as ended that it has not seen,
// less those still ending. A run ends in three steps: its phase turns
// done, then it is counted as ended, then its record enters the ring, and
// then it leaves the live runs. Reading the counters, then the
// live runs, then the ring, every run counted as ended is then either in
// the ring, evicted, or live with phase done, so the count is a lower
// bound of the evicted records, exact when no run is ending during the
// poll: it never counts a run that a poll sees.
type follower struct {
	pool   *lifeline.Pool
	mark   uint64 // ID of the newest record seen; valid when marked
	marked bool
	seen   uint64 // records returned so far
	missed uint64 // records known to have been evicted unseen
}

// poll returns the records that ended since the last poll, oldest first,
// how many more records it now knows were evicted unseen, and the pool's
// stats and live runs, read just before the ring.
func (f *follower) poll() (fresh []lifeline.Record, lost uint64, st lifeline.Stats, active []lifeline.RunInfo) {
	st = f.pool.Stats()
	active = f.pool.Active()
	recs := f.pool.Recent() // newest first; the order of the three reads matters
	n := len(recs)
	if f.marked {
		for i, rec := range recs {
			if rec.ID == f.mark {
				n = i
				break
			}
		}
	}
	if len(recs) > 0 {
		f.mark, f.marked = recs[0].ID, true
	}
	fresh = recs[:n]
	slices.Reverse(fresh)
	f.seen += uint64(n)

	var ended, ending uint64
	for _, c := range st.ByStatus {
		ended += c
	}
	for _, ri := range active {
		if ri.Phase == lifeline.PhaseDone {
			ending++
		}
	}
	if known := f.seen + ending + f.missed; ended > known {
		lost = ended - known
		f.missed += lost
	}
	return fresh, lost, st, active
}
