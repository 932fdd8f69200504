package idempotency

import (
	"net/http"

	"github.com/lifeline-go/lifeline"
)

// runOf returns the Lifeline run of a request, or nil outside Lifeline.
func runOf(r *http.Request) *lifeline.Run {
	rn, ok := lifeline.FromContext(r.Context())
	if !ok {
		return nil
	}
	return rn
}

// note annotates the request's run, if any, with what the middleware did,
// for the status page and the run's record: "idempotency" = "ran",
// "replayed", "in progress", "mismatch", "rejected" or "store failed".
func note(r *http.Request, outcome string) {
	if rn := runOf(r); rn != nil {
		rn.Annotate("idempotency", outcome)
	}
}
