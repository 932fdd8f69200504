package status

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. [New], [NewMetrics], [NewAccess] and [LogRecords] return
// them wrapped with the detail of what was wrong: test them with errors.Is.
var (
	// ErrNilPool is returned when the pool argument is nil.
	ErrNilPool = errors.New("status: nil pool")
	// ErrInvalidOption wraps every option validation error.
	ErrInvalidOption = errors.New("status: invalid option")
	// ErrAccessDenied is matched by every [*AccessError].
	ErrAccessDenied = errors.New("status: access denied")
)

var errNilFeed = fmt.Errorf("%w: WithFeed(nil)", ErrInvalidOption)

// AccessError is returned by [Access.Check] for a request that may not see
// the runs: Code is the HTTP status to answer (401 without a valid bearer
// token, 403 otherwise) and Reason says why in a few words, fit for the
// client ("Host not allowed", "not a loopback client", "forwarded request
// (X-Forwarded-For)", "missing or wrong bearer token").
type AccessError struct {
	Code   int
	Reason string
}

func (e *AccessError) Error() string {
	return "status: access denied (" + strconv.Itoa(e.Code) + "): " + e.Reason
}

// Is lets errors.Is(err, ErrAccessDenied) match.
func (e *AccessError) Is(target error) bool { return target == ErrAccessDenied }
