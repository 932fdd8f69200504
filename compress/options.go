package compress

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// The defaults of [New], each explained where its option is documented.
const (
	// DefaultMinSize is the default of [WithMinSize].
	DefaultMinSize = 1024
	// DefaultGzipLevel is the default of [WithGzipLevel].
	DefaultGzipLevel = 5
	// DefaultZstdLevel is the default of [WithZstdLevel].
	DefaultZstdLevel = 3
	// DefaultBrotliLevel is the default of [WithBrotliLevel].
	DefaultBrotliLevel = 4
)

// Option configures a [Compressor]. Options are applied in order by [New],
// which validates the result once.
type Option interface {
	apply(*options)
}

// optionFunc is an Option made of a function.
type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	minSize     int
	chunkSize   int
	gzipLevel   int
	zstdLevel   int
	brotliLevel int
	encodings   []string
	logger      *slog.Logger

	// At most one of the two type rules is set, the last one given.
	typeRule     int               // typeDefault, typeList or typeFunc
	contentTypes []string          // typeList
	compressible func(string) bool // typeFunc, or Compressible after validate
}

// The kinds of type rule.
const (
	typeDefault = iota
	typeList
	typeFunc
)

func defaultOptions() options {
	return options{
		minSize:     DefaultMinSize,
		gzipLevel:   DefaultGzipLevel,
		zstdLevel:   DefaultZstdLevel,
		brotliLevel: DefaultBrotliLevel,
		encodings:   []string{"zstd", "br", "gzip"},
		logger:      slog.New(slog.DiscardHandler),
	}
}

// WithMinSize sets the smallest body, in bytes, worth compressing. A body
// whose whole length is known when the handler first runs (the response
// ends, or [lifeline.Run.Finish] is called, before any flush) and is
// shorter than n is sent as it is.
//
// The default, [DefaultMinSize] (1 KiB), is where compression stops paying:
// below it a response fits in one TCP segment either way, while the encoding
// adds its own framing (18 bytes for gzip) and the work of priming an
// encoder. 0 compresses every non-empty body. A streamed body (one flushed
// before it ends) is compressed whatever its size, since its length is not
// known when the choice must be made.
func WithMinSize(n int) Option { return optionFunc(func(o *options) { o.minSize = n }) }

// WithChunkSize sets the chunk size of the output level [Compressor.Start]
// pushes: whenever a write leaves at least n uncompressed bytes in it, they
// are fed to the encoder, whose output goes on towards the client.
//
// The default, 0, buffers the whole body until a flush or the end of the
// response, as PHP's ob_start("ob_gzhandler") does: that is what lets the
// Content-Length header carry the exact compressed length. A positive n
// bounds the memory held per response at the price of a streamed (chunked)
// response, without Content-Length, for bodies larger than n.
func WithChunkSize(n int) Option { return optionFunc(func(o *options) { o.chunkSize = n }) }

// WithGzipLevel sets the gzip level, from 1 (fastest) to 9 (smallest).
//
// The default, [DefaultGzipLevel] (5), is the encoder's own default and a
// fast level: levels 1 to 6 use its fast match finders, 7 to 9 the slow
// lazy ones. On HTML and JSON it compresses 2 to 4 times as fast as the
// standard library's compress/gzip at the same level, for output up to 7%
// larger, and 7% to 19% smaller than level 1 (docs/bench/compress.md).
func WithGzipLevel(level int) Option { return optionFunc(func(o *options) { o.gzipLevel = level }) }

// WithZstdLevel sets the zstd level on zstd's usual scale, 1 to 22. The
// encoder has four speeds, chosen as the zstd level suggests: 1 and 2 are
// the fastest, 3 to 5 the default, 6 to 9 better compression, 10 and above
// the best (and slowest).
//
// The default, [DefaultZstdLevel] (3), is zstd's own default. Every level
// uses a window of at most 8 MiB, as RFC 9659 requires for the "zstd"
// content coding.
func WithZstdLevel(level int) Option { return optionFunc(func(o *options) { o.zstdLevel = level }) }

// WithBrotliLevel sets the brotli quality, from 0 (fastest) to 11
// (smallest).
//
// The default, [DefaultBrotliLevel] (4), is low on purpose: qualities above
// about 5 are tens of times slower, fit for files compressed once and served
// many times, not for responses compressed as they are written. 4 is the
// lowest quality with brotli's better match finder: on HTML and JSON,
// qualities 2 and 3 came out slower than gzip at its default level and,
// but for small pages, larger, which would leave no reason to prefer "br"
// over "gzip" (docs/bench/compress.md).
func WithBrotliLevel(level int) Option { return optionFunc(func(o *options) { o.brotliLevel = level }) }

// WithEncodings sets the content codings offered, in the server's order of
// preference, used to break ties between codings the client weighs equally.
// Each must be one of "zstd", "br" and "gzip" (case-insensitive); an unknown
// name makes [New] fail with [ErrUnknownEncoding].
//
// The default is "zstd", "br", "gzip": zstd is the fastest of the three at a
// ratio close to brotli's, and gzip is what every client accepts.
func WithEncodings(encodings ...string) Option {
	return optionFunc(func(o *options) { o.encodings = slices.Clone(encodings) })
}

// WithContentTypes replaces the default choice of compressible responses by
// an allow list: only a response whose media type matches one of the
// patterns is compressed. A pattern is a media type ("text/html"), a whole
// top-level type ("text/*") or "*/*"; parameters such as charset are
// ignored, and so is case. It overrides an earlier [WithCompressible].
//
// Without it (or WithCompressible), [Compressible] decides.
func WithContentTypes(patterns ...string) Option {
	return optionFunc(func(o *options) {
		o.typeRule = typeList
		o.contentTypes = slices.Clone(patterns)
		o.compressible = nil
	})
}

// WithCompressible replaces the default choice of compressible responses by
// f, which is given the response's Content-Type header value as it is
// (possibly with parameters, possibly empty) and reports whether to
// compress. f is called on the run's goroutine and must be safe for
// concurrent use by several runs. It overrides an earlier
// [WithContentTypes].
//
// The default is [Compressible].
func WithCompressible(f func(contentType string) bool) Option {
	return optionFunc(func(o *options) {
		o.typeRule = typeFunc
		o.compressible = f
		o.contentTypes = nil
	})
}

// WithLogger sets the logger for the one error [Compressor.Handler] cannot
// return: the run's output stack refusing the compression level (see
// output.Stack.Start). The default discards it.
func WithLogger(l *slog.Logger) Option { return optionFunc(func(o *options) { o.logger = l }) }

// validate checks the options and normalises the encoding names.
func (o *options) validate() error {
	if o.minSize < 0 {
		return fmt.Errorf("%w: min size %d is negative", ErrInvalidOption, o.minSize)
	}
	if o.chunkSize < 0 {
		return fmt.Errorf("%w: chunk size %d is negative", ErrInvalidOption, o.chunkSize)
	}
	if o.gzipLevel < 1 || o.gzipLevel > 9 {
		return fmt.Errorf("%w: gzip level %d is not in 1..9", ErrInvalidLevel, o.gzipLevel)
	}
	if o.zstdLevel < 1 || o.zstdLevel > 22 {
		return fmt.Errorf("%w: zstd level %d is not in 1..22", ErrInvalidLevel, o.zstdLevel)
	}
	if o.brotliLevel < 0 || o.brotliLevel > 11 {
		return fmt.Errorf("%w: brotli level %d is not in 0..11", ErrInvalidLevel, o.brotliLevel)
	}
	if len(o.encodings) == 0 {
		return fmt.Errorf("%w: no encodings", ErrInvalidOption)
	}
	for i, e := range o.encodings {
		e = strings.ToLower(strings.TrimSpace(e))
		switch e {
		case encZstd, encBrotli, encGzip:
		default:
			return fmt.Errorf("%w: %q", ErrUnknownEncoding, o.encodings[i])
		}
		if slices.Contains(o.encodings[:i], e) {
			return fmt.Errorf("%w: encoding %q listed twice", ErrInvalidOption, e)
		}
		o.encodings[i] = e
	}
	switch o.typeRule {
	case typeDefault:
		o.compressible = Compressible
	case typeList:
		m, err := newTypeMatcher(o.contentTypes)
		if err != nil {
			return err
		}
		o.compressible = m.match
	case typeFunc:
		if o.compressible == nil {
			return fmt.Errorf("%w: nil compressible predicate", ErrInvalidOption)
		}
	}
	if o.logger == nil {
		return fmt.Errorf("%w: nil logger", ErrInvalidOption)
	}
	return nil
}
