package lifelinetest

import "errors"

var (
	// ErrInvalidOption is wrapped by the error a test fails with when
	// [Pool.NewServer] gets a nil or conflicting [Option].
	ErrInvalidOption = errors.New("lifelinetest: invalid option")

	// ErrNoRun is wrapped by the error a test fails with when a request it
	// waits on did not become a run (the pool was closed, or its queue timed
	// out), so no [lifeline.Record] will come.
	ErrNoRun = errors.New("lifelinetest: the request got no run")

	// ErrWaitTimeout is wrapped by the error a test fails with when a wait
	// (for a record, for a request to reach the server, for the pool to be
	// idle) lasted longer than its bound: [Pool.Wait], or the bound given
	// to [Pool.WaitIdle].
	ErrWaitTimeout = errors.New("lifelinetest: wait timed out")
)
