package idempotency

import "context"

// run is the part of a [lifeline.Run] the middleware uses; tests substitute
// a fake through export_test.go.
type run interface {
	IgnoreUserAbort(ignore bool) (previous bool)
	BeforeRelease(fn func(ctx context.Context))
}

// runFromContext returns the Lifeline run of a request, if it has one.
// TEMPORARY: the root package does not compile yet.
func runFromContext(ctx context.Context) (run, bool) {
	return nil, false
}
