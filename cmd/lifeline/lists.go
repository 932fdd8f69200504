package main

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/riverqueue/river"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/status"
)

// The listings show what the runs did, so they are behind the status
// page's access rule (status.Access, issue 19): mounted by routes through
// a.listing.

// maxPage bounds a page of a listing; pageSize is its default.
const (
	pageSize = 100
	maxPage  = 1000
)

// page reads the parameters of a paged listing: limit (1 to maxPage,
// default pageSize) and after, the previous page's last item. When they are
// wrong it answers 400 and returns ok false.
func page(w http.ResponseWriter, r *http.Request) (limit int, after string, ok bool) {
	q, err := query(r)
	if err != nil {
		badRequest(w, err)
		return 0, "", false
	}
	p := newParams(q)
	limit = p.integer("limit", pageSize, 1, maxPage)
	after, _ = p.value("after")
	if err := p.done(); err != nil {
		badRequest(w, err)
		return 0, "", false
	}
	return limit, after, true
}

// listOrders is GET /demo/orders[?limit=N&after=REF]: a page of the orders
// as JSON, oldest first, and the ref to pass as after for the next page.
func (a *app) listOrders(w http.ResponseWriter, r *http.Request) {
	limit, after, ok := page(w, r)
	if !ok {
		return
	}
	list, more, err := a.queryOrders(r.Context(), after, limit)
	if err != nil {
		serverError(a.log, w, r, err)
		return
	}
	ans := map[string]any{"orders": list}
	if more {
		ans["next"] = list[len(list)-1].Ref
	}
	writeJSON(w, http.StatusOK, ans)
}

// jobJSON is a River job as GET /demo/jobs shows it.
type jobJSON struct {
	ID          int64           `json:"id"`
	Kind        string          `json:"kind"`
	State       string          `json:"state"`
	Args        json.RawMessage `json:"args"`
	Attempt     int             `json:"attempt"`
	Errors      []string        `json:"errors,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	AttemptedAt *time.Time      `json:"attempted_at,omitempty"`
	AttemptedBy []string        `json:"attempted_by,omitempty"`
	FinalizedAt *time.Time      `json:"finalized_at,omitempty"`
}

// listJobs is GET /demo/jobs[?limit=N&after=CURSOR]: River's jobs, newest
// first, a page at a time (next is the cursor of the next page), with the
// number of jobs in each state.
func (a *app) listJobs(w http.ResponseWriter, r *http.Request) {
	limit, after, ok := page(w, r)
	if !ok {
		return
	}
	lp := river.NewJobListParams().First(limit).OrderBy(river.JobListOrderByID, river.SortOrderDesc)
	if after != "" {
		var cur river.JobListCursor
		if err := cur.UnmarshalText([]byte(after)); err != nil {
			badRequest(w, &paramError{Name: "after", Reason: "not a cursor of this listing"})
			return
		}
		lp = lp.After(&cur)
	}
	res, err := a.queue.client.JobList(r.Context(), lp)
	if err != nil {
		serverError(a.log, w, r, err)
		return
	}
	counts, err := a.jobCounts(r.Context())
	if err != nil {
		serverError(a.log, w, r, err)
		return
	}
	list := make([]jobJSON, 0, len(res.Jobs))
	for _, j := range res.Jobs {
		jj := jobJSON{ID: j.ID, Kind: j.Kind, State: string(j.State), Args: j.EncodedArgs, Attempt: j.Attempt,
			CreatedAt: j.CreatedAt, AttemptedAt: j.AttemptedAt, AttemptedBy: j.AttemptedBy, FinalizedAt: j.FinalizedAt}
		for _, e := range j.Errors {
			jj.Errors = append(jj.Errors, e.Error)
		}
		list = append(list, jj)
	}
	ans := map[string]any{"jobs": list, "states": counts}
	if len(list) == limit && res.LastCursor != nil {
		if cur, err := res.LastCursor.MarshalText(); err == nil {
			ans["next"] = string(cur)
		}
	}
	writeJSON(w, http.StatusOK, ans)
}

// runJSON is a live run or the record of an ended one, as /demo/runs shows it.
type runJSON struct {
	ID              uint64            `json:"id"`
	Route           string            `json:"route"`
	Method          string            `json:"method"`
	URI             string            `json:"uri"`
	Phase           string            `json:"phase,omitempty"` // live runs only
	Status          string            `json:"status"`          // connection_status(): normal, aborted, timeout, aborted|timeout
	StatusCode      int               `json:"connection_status"`
	Cause           string            `json:"cause,omitempty"`
	Code            int               `json:"code,omitempty"` // HTTP status sent
	BytesSent       int64             `json:"bytes_sent"`
	Start           time.Time         `json:"start"`
	Duration        string            `json:"duration"`
	Finished        bool              `json:"finished,omitempty"`
	FinishedAfter   string            `json:"finished_after,omitempty"`
	ShutdownFuncs   int               `json:"shutdown_funcs,omitempty"`
	Runaway         bool              `json:"runaway,omitempty"`
	Panicked        bool              `json:"panicked,omitempty"`
	IgnoreUserAbort bool              `json:"ignore_user_abort,omitempty"`
	Notes           map[string]string `json:"notes,omitempty"`
}

func recordJSON(rec lifeline.Record, acc *status.Access) runJSON {
	rj := runJSON{
		ID: rec.ID, Route: rec.Route, Method: rec.Method, URI: acc.URI(rec.URI),
		Status: rec.Status.String(), StatusCode: int(rec.Status), Cause: rec.Cause.String(),
		Code: rec.Code, BytesSent: rec.BytesSent, Start: rec.Start, Duration: rec.Duration.String(),
		Finished: rec.Finished, ShutdownFuncs: rec.ShutdownFuncs, Runaway: rec.Runaway,
		Panicked: rec.Panicked, IgnoreUserAbort: rec.IgnoreUserAbort, Notes: rec.Notes,
	}
	if rec.Finished {
		rj.FinishedAfter = rec.FinishedAfter.String()
	}
	return rj
}

func infoJSON(ri lifeline.RunInfo, acc *status.Access) runJSON {
	return runJSON{
		ID: ri.ID, Route: ri.Route, Method: ri.Method, URI: acc.URI(ri.URI), Phase: ri.Phase.String(),
		Status: ri.Status.String(), StatusCode: int(ri.Status), Cause: ri.Cause.String(),
		BytesSent: ri.BytesSent, Start: ri.Start, Duration: ri.Elapsed.String(),
		Runaway: ri.Runaway, IgnoreUserAbort: ri.IgnoreUserAbort, Notes: ri.Notes,
	}
}

// listRuns is GET /demo/runs[?route=R]: the live runs, oldest first, and the
// records of the runs that ended most recently, newest first, with the notes
// their shutdown functions left. route keeps the runs of one demo (stream,
// order, finish, close-early, timeout, timeout-reset, session). URIs lose
// their query strings unless -status-query-strings, as on the status page.
func (a *app) listRuns(w http.ResponseWriter, r *http.Request) {
	q, err := query(r)
	if err != nil {
		badRequest(w, err)
		return
	}
	p := newParams(q)
	route := p.choice("route", append([]string{""}, demoRoutes...)...)
	if err := p.done(); err != nil {
		badRequest(w, err)
		return
	}
	acc := a.status.Access()
	active, recent := []runJSON{}, []runJSON{}
	for _, ri := range a.pool.Active() {
		if route == "" || ri.Route == route {
			active = append(active, infoJSON(ri, acc))
		}
	}
	for _, rec := range a.pool.Recent() {
		if route == "" || rec.Route == route {
			recent = append(recent, recordJSON(rec, acc))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"active": active, "recent": recent})
}
