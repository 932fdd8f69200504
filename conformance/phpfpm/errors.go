package phpfpm

import "errors"

var (
	// ErrNotInstalled is returned by [Start] when php-fpm or nginx cannot be
	// found. The message says how to install them.
	ErrNotInstalled = errors.New("phpfpm: php-fpm or nginx not installed")
	// ErrStart is returned by [Start] when php-fpm or nginx did not come up;
	// the error text carries the tail of the process's log.
	ErrStart = errors.New("phpfpm: server did not start")
	// ErrInvalidOption wraps every option validation error.
	ErrInvalidOption = errors.New("phpfpm: invalid option")
	// ErrClosed is returned by methods called after [Server.Close].
	ErrClosed = errors.New("phpfpm: server closed")
)
