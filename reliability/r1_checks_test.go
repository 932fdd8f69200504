package reliability

import (
	"encoding/json"
	"strconv"

	"github.com/lifeline-go/lifeline"
)

// committers returns the tags of the runs that committed the order ref.
func (s *stormServer) committers(ref string) []uint64 {
	s.ordersMu.Lock()
	defer s.ordersMu.Unlock()
	return append([]uint64(nil), s.orders[ref]...)
}

// checkInProcessReply checks what a client that read its response got.
func checkInProcessReply(fail *failures, sc *stormCall, r result, committers func(ref string) []uint64) {
	if sc.act != actFinish && sc.act != actStall {
		return
	}
	rep := r.rep
	if rep.err != nil || rep.resp == nil {
		fail.add("tag %d (%s %s): %v", sc.tag, sc.route, sc.target, rep.err)
		return
	}
	if rep.resp.StatusCode != sc.code {
		fail.add("tag %d (%s %s): status %d, want %d; body %.200q", sc.tag, sc.route, sc.target, rep.resp.StatusCode, sc.code, rep.body)
		return
	}
	if rep.bodyErr != nil {
		fail.add("tag %d (%s): body: %v", sc.tag, sc.route, rep.bodyErr)
		return
	}
	if err := checkLength(rep.resp, rep.body); err != nil {
		fail.add("tag %d (%s): %v", sc.tag, sc.route, err)
	}
	body, err := decodeBody(rep.resp, rep.body)
	if err != nil {
		fail.add("tag %d (%s): decode: %v", sc.tag, sc.route, err)
		return
	}
	if sc.want != "" && string(body) != sc.want {
		fail.add("tag %d (%s %s): body %.200q, want %.200q", sc.tag, sc.route, sc.target, body, sc.want)
	}
	if sc.timeout && rep.resp.Header.Get("Retry-After") == "" {
		fail.add("tag %d (timeout): 503 without Retry-After", sc.tag)
	}
	if sc.route != "order" {
		return
	}
	var ans orderAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		fail.add("tag %d (order): %v in %q", sc.tag, err, body)
		return
	}
	by := committers(sc.ref)
	if len(by) != 1 {
		return // checkOrders reports it
	}
	if ans.Ref != sc.ref || ans.Tag != by[0] {
		fail.add("tag %d (order): answer %+v, want ref %s committed by tag %d", sc.tag, ans, sc.ref, by[0])
	}
	replayed := rep.resp.Header.Get("Idempotent-Replayed") == "true"
	if replayed != (by[0] != sc.tag) {
		fail.add("tag %d (order %s, committed by %d): Idempotent-Replayed %v", sc.tag, sc.ref, by[0], replayed)
	}
	if r.origin == nil && by[0] != sc.tag {
		fail.add("tag %d (order %s): a first attempt that read its answer did not commit it (tag %d did)", sc.tag, sc.ref, by[0])
	}
}

// checkOrders checks that each order was committed exactly once, or never
// when its only attempt was a partial request.
func checkOrders(fail *failures, s *stormServer, calls []*stormCall) {
	for _, c := range calls {
		if c.route != "order" {
			continue
		}
		tags := s.committers(c.ref)
		switch {
		case c.act.partial() && len(tags) != 0:
			fail.add("order %s: committed by %v after a partial request", c.ref, tags)
		case !c.act.partial() && len(tags) != 1:
			fail.add("order %s (%s): committed by runs %v, want exactly once", c.ref, c.act, tags)
		}
	}
}

// recordsByTag indexes the pool's records by storm tag, checking that
// each ran exactly one shutdown function and none ran away.
func recordsByTag(fail *failures, recs []lifeline.Record, allowRunaway bool) map[uint64]lifeline.Record {
	out := make(map[uint64]lifeline.Record, len(recs))
	for _, rec := range recs {
		tag, err := strconv.ParseUint(rec.Notes["tag"], 10, 64)
		if err != nil {
			fail.add("record of run %d: no storm tag (%v)", rec.ID, rec.Notes)
			continue
		}
		if _, dup := out[tag]; dup {
			fail.add("tag %d: two records", tag)
		}
		out[tag] = rec
		if rec.ShutdownFuncs != 1 {
			fail.add("tag %d: record says %d shutdown functions ran, want 1", tag, rec.ShutdownFuncs)
		}
		if rec.Runaway && !allowRunaway || rec.Panicked && rec.Cause == lifeline.CauseNone {
			fail.add("tag %d: record runaway %v, panicked %v", tag, rec.Runaway, rec.Panicked)
		}
	}
	return out
}
