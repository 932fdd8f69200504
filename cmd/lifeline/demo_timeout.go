package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/lifeline-go/lifeline"
)

// Ways a timeout demo can be busy.
const (
	busySleep = "sleep" // waits with the run context, as a database call would
	busySpin  = "spin"  // computes, calling Run.Check as PHP's VM checks at loop back-edges
)

// timeoutParams are the parameters of GET /demo/timeout.
type timeoutParams struct {
	Limit time.Duration // the time limit, set with SetTimeLimit (default 1s; 0 = none)
	Busy  time.Duration // how long the run works (default 3s)
	Mode  string        // busySleep (default) or busySpin
}

func parseTimeout(q url.Values) (timeoutParams, error) {
	p := newParams(q)
	tp := timeoutParams{
		Limit: p.duration("limit", time.Second),
		Busy:  p.duration("busy", 3*time.Second),
		Mode:  p.choice("mode", busySleep, busySpin),
	}
	return tp, p.done()
}

// timeout is GET /demo/timeout?limit=D&busy=D, the time limit scenario of
// the PHP manual's chapter on connection handling (seeds/php-manual-connection-handling.txt):
//
//	"Your script can also be terminated by the built-in script timer. The
//	default timeout is 30 seconds. It can be changed using the
//	max_execution_time php.ini directive [...] as well as with the
//	set_time_limit() function. When the timer expires the script will be
//	aborted and as with the above client disconnect case, if a shutdown
//	function has been registered it will be called. Within this shutdown
//	function you can check to see if a timeout caused the shutdown function
//	to be called by calling the connection_status() function. This function
//	will return 2 if a timeout caused the shutdown function to be called."
//
// The run sets its limit to `limit` and works for `busy`, sleeping with the
// run context (mode=sleep) or spinning with [lifeline.Run.Check]
// (mode=spin). When busy exceeds limit the run is terminated and, since it
// sent nothing, the client gets 503; the shutdown function records the
// connection status (note "final-status" = "timeout", PHP's 2) in the run's
// record, shown by GET /demo/runs?route=timeout. Lifeline counts wall time,
// where PHP on Linux counts CPU time: with mode=sleep, PHP would not time out.
func (a *app) timeout(w http.ResponseWriter, r *http.Request, rn *lifeline.Run) {
	p, ok := parseQuery(w, r, parseTimeout)
	if !ok {
		return
	}
	rn.RegisterShutdown(recordFinalStatus)
	rn.SetTimeLimit(p.Limit) // set_time_limit(limit)
	busy(rn, p.Mode, p.Busy)
	fmt.Fprintf(w, "worked %v (%s) within the time limit of %v\n", p.Busy, p.Mode, limitString(p.Limit))
}

// busy works for d in the given mode, and is terminated by the time limit.
func busy(rn *lifeline.Run, mode string, d time.Duration) {
	if mode == busySpin {
		for start := time.Now(); time.Since(start) < d; {
			rn.Check()
		}
		return
	}
	_ = pause(rn.Context(), d)
	rn.Check() // the limit cancelled the pause: stop here
}

// recordFinalStatus is a shutdown function that notes connection_status().
func recordFinalStatus(_ context.Context, rn *lifeline.Run) {
	rn.Annotate("final-status", rn.Status().String())
}

func limitString(d time.Duration) string {
	if d == 0 {
		return "none (0)"
	}
	return d.String()
}
