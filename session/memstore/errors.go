package memstore

import "errors"

// Sentinel errors.
var (
	// ErrInvalidOption wraps every option validation error from [New].
	ErrInvalidOption = errors.New("memstore: invalid option")
)
