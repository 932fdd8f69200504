package status

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lifeline-go/lifeline"
)

// Snapshot is the pool's state at one moment: the JSON document of ?json
// (without Active and Recent) and ?json&full (with them). Keys are snake_case
// and stable (docs/STATUS.md has the schema, testdata/schema.golden pins
// it); times are RFC 3339 strings in UTC; durations are numbers of
// milliseconds with microsecond precision; counters count since the pool
// was created.
type Snapshot struct {
	Pool           string            `json:"pool"`              // [WithPoolName]
	Time           time.Time         `json:"time"`              // when the snapshot was taken
	StartTime      time.Time         `json:"start_time"`        // when the pool was created
	UptimeMS       float64           `json:"uptime_ms"`         // Time - StartTime
	AcceptedRuns   uint64            `json:"accepted_runs"`     // runs started
	ActiveRuns     int               `json:"active_runs"`       // runs alive, including those working after Finish
	FinishedRuns   int               `json:"finished_runs"`     // runs alive that called Finish: response sent, still working
	RunawayRuns    int               `json:"runaway_runs"`      // runs alive past their time limit and grace period
	RunawayTotal   uint64            `json:"runaway_total"`     // runs that ran away, since start
	SessionLocked  int               `json:"session_locked"`    // runs alive holding a session lock
	MaxActiveRuns  int               `json:"max_active_runs"`   // the most runs alive at once
	QueueLength    int               `json:"queue_length"`      // requests waiting for a slot ([lifeline.WithMaxActive])
	QueueWaits     uint64            `json:"queue_waits"`       // requests that had to wait for a slot
	QueueTimeouts  uint64            `json:"queue_timeouts"`    // requests turned away after waiting
	EndedRuns      uint64            `json:"ended_runs"`        // runs that ended
	EndedByStatus  map[string]uint64 `json:"ended_by_status"`   // ended runs by final status: keys "0" to "3", PHP's connection_status()
	AbortsByCause  map[string]uint64 `json:"aborts_by_cause"`   // client aborts and shutdowns by cause: "closed", "reset", "silent-peer", "shutdown"
	TimeLimitHits  uint64            `json:"time_limit_hits"`   // runs whose time limit expired
	HandlerPanics  uint64            `json:"handler_panics"`    // handler panics (terminations are not panics)
	ShutdownPanics uint64            `json:"shutdown_panics"`   // panics in shutdown functions
	Sections       []Section         `json:"sections,omitzero"` // the application's sections ([WithSection]): ServeHTTP and SnapshotContext only
	Active         []LiveRun         `json:"active,omitzero"`   // live runs, oldest first (full only)
	Recent         []EndedRun        `json:"recent,omitzero"`   // ended runs, newest first (full only)
}

// LiveRun is one live run in [Snapshot.Active].
type LiveRun struct {
	ID              uint64            `json:"id"`
	Route           string            `json:"route"` // [lifeline.WithRoute], "" if unnamed
	Method          string            `json:"method"`
	URI             string            `json:"uri"`         // without its query string unless [WithQueryStrings]
	Phase           string            `json:"phase"`       // "running", "finished", "shutdown" or "done"
	Status          int               `json:"status"`      // connection status, 0-3
	StatusText      string            `json:"status_text"` // "normal", "aborted", "timeout", "aborted|timeout"
	Cause           string            `json:"cause"`       // why the status left normal, "" if it did not
	StartTime       time.Time         `json:"start_time"`
	ElapsedMS       float64           `json:"elapsed_ms"`
	TimeLimitMS     float64           `json:"time_limit_ms"` // 0 = unlimited
	TimeLeftMS      float64           `json:"time_left_ms"`  // 0 when unlimited or expired
	BytesSent       int64             `json:"bytes_sent"`    // body bytes handed to the client side
	IgnoreUserAbort bool              `json:"ignore_user_abort"`
	Session         string            `json:"session"`        // the session package's note: "locked #a1b2c3", "waiting #a1b2c3", ""
	SessionLocked   bool              `json:"session_locked"` // the run holds a session lock
	Runaway         bool              `json:"runaway"`
	Notes           map[string]string `json:"notes"` // from [lifeline.Run.Annotate], {} if none
}

// EndedRun is the final record of one ended run in [Snapshot.Recent].
type EndedRun struct {
	ID              uint64            `json:"id"`
	Route           string            `json:"route"`
	Method          string            `json:"method"`
	URI             string            `json:"uri"`
	Status          int               `json:"status"` // final connection status, 0-3
	StatusText      string            `json:"status_text"`
	Cause           string            `json:"cause"`
	Code            int               `json:"code"` // HTTP status code sent, 0 if none
	BytesSent       int64             `json:"bytes_sent"`
	StartTime       time.Time         `json:"start_time"`
	DurationMS      float64           `json:"duration_ms"`
	Finished        bool              `json:"finished"`          // the run called Finish
	FinishedAfterMS float64           `json:"finished_after_ms"` // start to Finish, 0 if not finished
	Delivery        string            `json:"delivery"`          // for a finished run: "delivered", "undelivered", "pending" or "unknown" (lifeline.Delivery); "" otherwise
	ShutdownFuncs   int               `json:"shutdown_funcs"`    // shutdown functions that ran
	Runaway         bool              `json:"runaway"`
	Panicked        bool              `json:"panicked"` // the handler panicked (a termination is not a panic: see cause)
	IgnoreUserAbort bool              `json:"ignore_user_abort"`
	Notes           map[string]string `json:"notes"`
}

// snapshot reads the pool. The counters and the lists are read one after the
// other, not atomically: they may disagree by the runs that start or end in
// between.
func snapshot(pool *lifeline.Pool, o *options, full bool, now time.Time) Snapshot {
	st := pool.Stats()
	active := pool.Active()
	s := Snapshot{
		Pool: o.poolName, Time: now.UTC(), StartTime: st.Start.UTC(), UptimeMS: ms(now.Sub(st.Start)),
		AcceptedRuns: st.Accepted, ActiveRuns: st.Active, FinishedRuns: st.Finished,
		RunawayTotal: st.Runaway, MaxActiveRuns: st.MaxActive, QueueLength: st.Queued,
		QueueWaits: st.QueueWaits, QueueTimeouts: st.QueueTimeouts,
		EndedByStatus: make(map[string]uint64, len(st.ByStatus)), AbortsByCause: maps.Clone(st.Aborts),
		TimeLimitHits: st.TimeLimitHits, HandlerPanics: st.Panics, ShutdownPanics: st.ShutdownPanics,
	}
	if s.AbortsByCause == nil {
		s.AbortsByCause = map[string]uint64{}
	}
	for i, n := range st.ByStatus {
		s.EndedByStatus[strconv.Itoa(i)] = n
		s.EndedRuns += n
	}
	for _, ri := range active {
		if ri.Runaway {
			s.RunawayRuns++
		}
		if sessionLocked(ri.Notes) {
			s.SessionLocked++
		}
	}
	if !full {
		return s
	}
	s.Active = make([]LiveRun, len(active))
	for i, ri := range active {
		s.Active[i] = liveRun(ri, o)
	}
	recent := pool.Recent()
	s.Recent = make([]EndedRun, len(recent))
	for i, rec := range recent {
		s.Recent[i] = endedRun(rec, o)
	}
	return s
}

func liveRun(ri lifeline.RunInfo, o *options) LiveRun {
	return LiveRun{
		ID: ri.ID, Route: ri.Route, Method: ri.Method, URI: cleanURI(ri.URI, o.queryString),
		Phase: ri.Phase.String(), Status: int(ri.Status), StatusText: ri.Status.String(), Cause: ri.Cause.String(),
		StartTime: ri.Start.UTC(), ElapsedMS: ms(ri.Elapsed), TimeLimitMS: ms(ri.TimeLimit), TimeLeftMS: ms(ri.TimeLeft),
		BytesSent: ri.BytesSent, IgnoreUserAbort: ri.IgnoreUserAbort, Session: ri.Notes["session"],
		SessionLocked: sessionLocked(ri.Notes), Runaway: ri.Runaway, Notes: notes(ri.Notes),
	}
}

func endedRun(rec lifeline.Record, o *options) EndedRun {
	return EndedRun{
		ID: rec.ID, Route: rec.Route, Method: rec.Method, URI: cleanURI(rec.URI, o.queryString),
		Status: int(rec.Status), StatusText: rec.Status.String(), Cause: rec.Cause.String(), Code: rec.Code,
		BytesSent: rec.BytesSent, StartTime: rec.Start.UTC(), DurationMS: ms(rec.Duration),
		Finished: rec.Finished, FinishedAfterMS: ms(rec.FinishedAfter), Delivery: delivery(rec), ShutdownFuncs: rec.ShutdownFuncs,
		Runaway: rec.Runaway, Panicked: rec.Panicked, IgnoreUserAbort: rec.IgnoreUserAbort, Notes: notes(rec.Notes),
	}
}

// delivery says whether a finished run's answer reached its client, as
// known when the run ended; "" for a run that did not call Finish, whose
// delivery Lifeline does not track.
func delivery(rec lifeline.Record) string {
	if !rec.Finished {
		return ""
	}
	return rec.Delivery.String()
}

// sessionLocked reports whether the session package's note says the run
// holds the lock: "locked", optionally followed by the session's
// fingerprint ("locked #a1b2c3").
func sessionLocked(notes map[string]string) bool {
	v := notes["session"]
	return v == "locked" || strings.HasPrefix(v, "locked ")
}

// notes returns a copy of n that encodes as an object, never null.
func notes(n map[string]string) map[string]string {
	if n == nil {
		return map[string]string{}
	}
	return maps.Clone(n)
}

// cleanURI removes the query string (and a fragment, which a client should
// not send) unless keep is set.
func cleanURI(uri string, keep bool) string {
	if keep {
		return uri
	}
	if i := strings.IndexAny(uri, "?#"); i >= 0 {
		return uri[:i]
	}
	return uri
}

// ms converts d to milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
