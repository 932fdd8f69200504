package status

import (
	"slices"

	"github.com/lifeline-go/lifeline"
)

// follower finds the records that ended since its last poll of
// [lifeline.Pool.Recent]. The ring keeps records in the order runs ended, so
// the records newer than the newest one seen last time are the new ones; if
// that one has been evicted, every record in the ring is new and some may
// have been lost in between. A follower is not safe for concurrent use.
//
// The root package offers no hook for ended runs, so polling is the only
// way: records evicted from the ring between two polls are missed. poll
// counts them (approximately: the runs ending at the very moment of a poll
// can shift one between two polls).
type follower struct {
	pool   *lifeline.Pool
	mark   uint64 // ID of the newest record seen; valid when marked
	marked bool
	ended  uint64 // runs ended at the previous poll
}

// poll returns the records that ended since the last poll, oldest first,
// how many ended in between but had already left the ring, and the pool's
// stats read just before the ring.
func (f *follower) poll() (fresh []lifeline.Record, lost uint64, st lifeline.Stats) {
	st = f.pool.Stats()
	var ended uint64
	for _, n := range st.ByStatus {
		ended += n
	}
	recs := f.pool.Recent() // newest first
	n, found := len(recs), false
	if f.marked {
		for i, rec := range recs {
			if rec.ID == f.mark {
				n, found = i, true
				break
			}
		}
	}
	if len(recs) > 0 {
		f.mark, f.marked = recs[0].ID, true
	}
	fresh = recs[:n]
	slices.Reverse(fresh)
	if !found && ended > f.ended {
		if d := ended - f.ended; d > uint64(n) {
			lost = d - uint64(n)
		}
	}
	f.ended = ended
	return fresh, lost, st
}
