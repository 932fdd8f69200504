package compress

import "errors"

var (
	// ErrUnknownEncoding is returned by [New] when [WithEncodings] names a
	// content coding this package cannot produce (it knows "zstd", "br" and
	// "gzip").
	ErrUnknownEncoding = errors.New("compress: unknown encoding")
	// ErrInvalidLevel is returned by [New] when a compression level is out of
	// the range its encoding accepts.
	ErrInvalidLevel = errors.New("compress: invalid level")
	// ErrInvalidOption is returned by [New] for any other option value it
	// cannot use: a negative size, an empty or repeated encoding list, a nil
	// predicate or logger, a malformed media type pattern.
	ErrInvalidOption = errors.New("compress: invalid option")
)
