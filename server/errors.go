package server

import "errors"

var (
	// ErrDrainIncomplete is returned (wrapped, with the number of runs and
	// connections involved) by [Server.Serve] and [ListenAndServe] when the drain
	// deadline of a graceful shutdown passed before everything ended: runs
	// still working were cancelled with [lifeline.ErrServerShutdown] and
	// connections still open were closed. A caller can give its process a
	// non-zero exit status for it. A clean drain returns nil.
	ErrDrainIncomplete = errors.New("server: drain incomplete")
	// ErrInvalidOption wraps every error [New] reports about its arguments
	// and options.
	ErrInvalidOption = errors.New("server: invalid option")
	// ErrServed is returned by [Server.Serve] when it is called a second
	// time: a Server serves once, then drains and is done.
	ErrServed = errors.New("server: Serve already called")
)
