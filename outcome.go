package lifeline

import (
	"context"
	"net/http"
)

// Outcome is how a request's response ended, as the pool saw it when it
// handed the response back to net/http: what an access log outside the pool
// needs, since the code a handler chose is not always the one sent (a client
// that left gets none, a runaway gets the timeout response).
type Outcome struct {
	Run       uint64 // the run's ID, 0 if the request got no run (pool closed, queue timeout)
	Code      int    // the status code sent, 0 if none
	BytesSent int64  // body bytes written to the client
	Status    Status // the connection status then
	Cause     Cause  // why it left Normal
	Finished  bool   // the response was sent by Finish: the run goes on
	Cut       bool   // the response was cut short (the client saw an incomplete answer)
}

type outcomeKey struct{}

// WithOutcome returns a copy of r whose context carries an Outcome, filled
// in by the pool when the request's response ends, and that Outcome. Use it
// in middleware placed outside the pool:
//
//	r, out := pool.WithOutcome(r)
//	next.ServeHTTP(w, r)
//	log.Printf("%d %dB %v %v", out.Code, out.BytesSent, out.Status, out.Cause)
//
// The Outcome is complete when next.ServeHTTP returns (or panics with
// [http.ErrAbortHandler] for a cut response), not before. For a run that goes
// on after Finish, the run's final [Record] comes later ([WithRunEnded]). A
// pool on which WithOutcome was never called does not look for one.
func (p *Pool) WithOutcome(r *http.Request) (*http.Request, *Outcome) {
	p.outcomes.Store(true)
	o := new(Outcome)
	return r.WithContext(context.WithValue(r.Context(), outcomeKey{}, o)), o
}

// fillOutcome writes the outcome of rn's response for an outer WithOutcome.
func (rn *Run) fillOutcome(r *http.Request, cut bool) {
	if !rn.pool.outcomes.Load() {
		return
	}
	o, ok := r.Context().Value(outcomeKey{}).(*Outcome)
	if !ok {
		return
	}
	rn.mu.Lock()
	cause := rn.cause
	rn.mu.Unlock()
	*o = Outcome{
		Run: rn.id, Code: int(rn.code.Load()), BytesSent: rn.bytes.Load(), Status: rn.Status(),
		Cause: cause, Finished: rn.released(), Cut: cut,
	}
}
