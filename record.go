package lifeline

import (
	"maps"
	"sort"
	"time"
)

// Record is the final record of an ended run, kept in the pool's ring of
// recent runs ([Pool.Recent]) and shown by the status page.
type Record struct {
	ID              uint64
	Route           string
	Method          string
	URI             string // the request URI as sent by the client
	Status          Status // final connection status, 0-3
	Cause           Cause  // why the status left Normal
	Code            int    // HTTP status code sent (0 if none)
	BytesSent       int64  // body bytes handed to the client side
	Start           time.Time
	Duration        time.Duration
	Finished        bool          // the run called Finish
	Delivery        Delivery      // whether the response reached the client, as known when the run ended
	FinishedAfter   time.Duration // time from start to Finish
	ShutdownFuncs   int           // shutdown functions that ran
	Runaway         bool
	Panicked        bool
	IgnoreUserAbort bool
	Notes           map[string]string // from Run.Annotate
}

// RunInfo describes a live run, for [Pool.Active] and the status page.
type RunInfo struct {
	ID              uint64
	Route           string
	Method          string
	URI             string
	Phase           Phase
	Status          Status
	Cause           Cause
	Start           time.Time
	Elapsed         time.Duration
	TimeLimit       time.Duration // 0 = unlimited
	TimeLeft        time.Duration // 0 when unlimited or expired
	BytesSent       int64
	IgnoreUserAbort bool
	Runaway         bool
	Notes           map[string]string
}

// Stats are the pool's counters since it was created.
type Stats struct {
	Start          time.Time
	Accepted       uint64            // runs started
	Active         int               // runs alive now, including those working after Finish
	Finished       int               // runs alive now that called Finish
	Runaway        uint64            // runs that ran past their limit and grace period
	MaxActive      int               // the most runs alive at once
	Queued         int               // requests waiting for a slot now (WithMaxActive)
	QueueWaits     uint64            // requests that had to wait for a slot
	QueueTimeouts  uint64            // requests turned away after waiting
	ByStatus       [4]uint64         // ended runs by final status 0-3
	Aborts         map[string]uint64 // client aborts and shutdowns by cause
	TimeLimitHits  uint64
	Panics         uint64 // handler panics (not terminations)
	ShutdownPanics uint64
}

// record fills rec with the run's final record; dlv is its delivery. It
// fills in place, field by field: a Record is large, and the end of a run
// is on net/http's goroutine, whose stack should stay small.
func (rn *Run) record(rec *Record, dlv Delivery) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	rec.ID, rec.Route, rec.Method, rec.URI = rn.id, rn.conf().route, rn.req.Method, rn.req.RequestURI
	rec.Status, rec.Cause, rec.Code, rec.BytesSent = rn.Status(), rn.cause, int(rn.code.Load()), rn.bytes.Load()
	rec.Start, rec.Duration, rec.Finished, rec.Delivery = rn.start, time.Since(rn.start), rn.finishCalled(), dlv
	rec.FinishedAfter, rec.ShutdownFuncs, rec.Runaway = 0, rn.ranShutdown, rn.timerMode == timerExpired
	rec.Panicked, rec.IgnoreUserAbort, rec.Notes = rn.panicked, rn.ignore.Load(), nil
	if rec.URI == "" && rn.req.URL != nil {
		rec.URI = rn.req.URL.RequestURI()
	}
	if rec.Finished {
		rec.FinishedAfter = rn.finishedIn
	}
	if len(rn.notes) > 0 {
		rec.Notes = maps.Clone(rn.notes)
	}
}

func (rn *Run) info(now time.Time) RunInfo {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	ri := RunInfo{
		ID: rn.id, Route: rn.conf().route, Method: rn.req.Method, URI: rn.req.RequestURI,
		Phase: rn.Phase(), Status: rn.Status(), Cause: rn.cause, Start: rn.start,
		Elapsed: now.Sub(rn.start), TimeLimit: rn.limit, BytesSent: rn.bytes.Load(),
		IgnoreUserAbort: rn.ignore.Load(), Runaway: rn.timerMode == timerExpired,
	}
	if rn.timerMode == timerLimit {
		if left := rn.deadline.Sub(now); left > 0 {
			ri.TimeLeft = left
		}
	}
	if len(rn.notes) > 0 {
		ri.Notes = maps.Clone(rn.notes)
	}
	return ri
}

// Active returns a snapshot of the live runs, oldest first.
func (p *Pool) Active() []RunInfo {
	runs := p.live.snapshot()
	now := time.Now()
	out := make([]RunInfo, len(runs))
	for i, rn := range runs {
		out[i] = rn.info(now)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Recent returns the final records of the most recently ended runs, newest
// first, at most as many as [WithRecentRuns] keeps.
func (p *Pool) Recent() []Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Record, 0, p.recentN)
	for i := 1; i <= p.recentN; i++ {
		out = append(out, p.recent[(p.recentAt-i+len(p.recent))%len(p.recent)])
	}
	return out
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	active := p.live.n.Load()
	s := Stats{
		Start: p.start, Accepted: p.stats.accepted.Load(), Active: int(active),
		Finished: int(p.stats.finished.Load()), Runaway: p.stats.runaway.Load(),
		MaxActive: int(p.live.peak.Load()), Queued: int(p.stats.queued.Load()),
		QueueWaits: p.stats.queueWaits.Load(), QueueTimeouts: p.stats.queueTimeouts.Load(),
		TimeLimitHits: p.stats.timeLimitHits.Load(), Panics: p.stats.panics.Load(),
		ShutdownPanics: p.stats.shutdownPanics.Load(), Aborts: make(map[string]uint64),
	}
	for i := range s.ByStatus {
		s.ByStatus[i] = p.stats.byStatus[i].Load()
	}
	for c := CauseClosed; c < causeCount; c++ {
		if c == CauseTimeLimit {
			continue
		}
		s.Aborts[c.String()] = p.stats.aborts[c].Load()
	}
	return s
}
