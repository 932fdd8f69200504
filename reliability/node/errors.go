package node

import "errors"

// Sentinel errors.
var (
	// ErrInvalidConfig wraps every configuration error from [New].
	ErrInvalidConfig = errors.New("node: invalid configuration")
)
