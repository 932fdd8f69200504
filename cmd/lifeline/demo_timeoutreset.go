package main

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/lifeline-go/lifeline"
)

// timeoutResetParams are the parameters of GET /demo/timeout-reset.
type timeoutResetParams struct {
	Limit  time.Duration // the first time limit (default 1s)
	Before time.Duration // work before the reset (default 3/4 of Limit)
	Reset  time.Duration // the limit set by the reset (default 1s)
	After  time.Duration // work after the reset (default 500ms)
}

func parseTimeoutReset(q url.Values) (timeoutResetParams, error) {
	p := newParams(q)
	tp := timeoutResetParams{
		Limit: p.duration("limit", time.Second),
		Reset: p.duration("reset", time.Second),
		After: p.duration("after", 500*time.Millisecond),
	}
	tp.Before = p.duration("before", tp.Limit*3/4)
	return tp, p.done()
}

// timeoutReset is GET /demo/timeout-reset?limit=D&reset=D&after=D, the
// example of the PHP manual's set_time_limit() page, which the seed chapter
// on connection handling points to ("see set_time_limit()"):
//
//	"When called, set_time_limit() restarts the timeout counter from zero.
//	In other words, if the timeout is the default 30 seconds, and 25 seconds
//	into script execution a call such as set_time_limit(20) is made, the
//	script will run for a total of 45 seconds before timing out."
//
// The run sets its limit to `limit`, works `before` (3/4 of limit by
// default), calls [lifeline.Run.SetTimeLimit](reset), and works `after`
// more. It succeeds when before < limit and after < reset, though before +
// after may exceed limit; otherwise the time limit ends it with 503 and the
// shutdown function records "timeout", as for /demo/timeout.
func (a *app) timeoutReset(w http.ResponseWriter, r *http.Request, rn *lifeline.Run) {
	p, ok := parseQuery(w, r, parseTimeoutReset)
	if !ok {
		return
	}
	rn.RegisterShutdown(recordFinalStatus)
	start := time.Now()
	rn.SetTimeLimit(p.Limit) // set_time_limit(limit)
	busy(rn, busySleep, p.Before)
	rn.SetTimeLimit(p.Reset) // set_time_limit(reset): the counter starts again from zero
	busy(rn, busySleep, p.After)
	fmt.Fprintf(w, "worked %v, reset the time limit to %v, worked %v more: %v in all, with a first limit of %v\n",
		p.Before, limitString(p.Reset), p.After, time.Since(start).Round(time.Millisecond), limitString(p.Limit))
}
