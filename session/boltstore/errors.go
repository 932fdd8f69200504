package boltstore

import "errors"

// Sentinel errors.
var (
	// ErrInvalidOption wraps every option validation error from [New].
	ErrInvalidOption = errors.New("boltstore: invalid option")
)
