package status

import "errors"

// Sentinel errors. [New], [NewMetrics] and [LogRecords] return them wrapped
// with the detail of what was wrong: test them with errors.Is.
var (
	// ErrNilPool is returned when the pool argument is nil.
	ErrNilPool = errors.New("status: nil pool")
	// ErrInvalidOption wraps every option validation error.
	ErrInvalidOption = errors.New("status: invalid option")
)
