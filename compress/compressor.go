package compress

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/lifeline-go/lifeline/output"
)

// Headers-sent locations name the code that wrote, not this package.
func init() { output.SkipPackage("github.com/lifeline-go/lifeline/compress") }

// Compressor compresses responses as an output handler of a Lifeline run.
// It holds the validated options and a pool of encoders per content coding,
// so a server needs one Compressor, shared by all runs: it is safe for
// concurrent use. Use [Compressor.Handler] as middleware, or
// [Compressor.Start] to compress one response from inside a handler.
type Compressor struct {
	opts   options
	codecs []*codec // in the server's order of preference
	names  []string // the codecs' names, same order, for Negotiate
}

// New returns a Compressor configured by opts. It validates them once and
// returns an error matching [ErrInvalidLevel], [ErrUnknownEncoding] or
// [ErrInvalidOption] for a value it cannot use.
func New(opts ...Option) (*Compressor, error) {
	o := defaultOptions()
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: opts[%d] is nil", ErrInvalidOption, i)
		}
		opt.apply(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	c := &Compressor{opts: o, names: o.encodings}
	for _, name := range o.encodings {
		c.codecs = append(c.codecs, newCodec(name, o.levelOf(name)))
	}
	return c, nil
}

// Encodings returns the content codings c offers, in its order of
// preference (see [WithEncodings]).
func (c *Compressor) Encodings() []string {
	return append([]string(nil), c.names...)
}

// levelOf returns the configured level of a validated encoding name.
func (o *options) levelOf(name string) int {
	switch name {
	case encGzip:
		return o.gzipLevel
	case encBrotli:
		return o.brotliLevel
	default:
		return o.zstdLevel
	}
}

// codecFor returns the codec of r's preferred encoding, or nil if the client
// accepts none of c's.
func (c *Compressor) codecFor(r *http.Request) *codec {
	name := Negotiate(acceptEncoding(r.Header), c.names)
	for _, cd := range c.codecs {
		if cd.name == name {
			return cd
		}
	}
	return nil
}

// acceptEncoding returns the request's Accept-Encoding field value, its
// field lines joined with commas as RFC 9110 §5.3 allows.
func acceptEncoding(h http.Header) string {
	v := h.Values("Accept-Encoding")
	switch len(v) {
	case 0:
		return ""
	case 1:
		return v[0]
	}
	return strings.Join(v, ",")
}

// newHandler returns the output handler compressing the response st of
// request r.
func (c *Compressor) newHandler(st responseState, r *http.Request) *handler {
	return &handler{
		opts:  &c.opts,
		codec: c.codecFor(r),
		st:    st,
		head:  r.Method == http.MethodHead,
	}
}
