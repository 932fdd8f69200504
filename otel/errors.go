package lifelineotel

import "errors"

// ErrInvalidOption is wrapped by the error [New] returns for a nil option.
var ErrInvalidOption = errors.New("lifelineotel: invalid option")
