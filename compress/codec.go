package compress

import (
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// The content codings this package produces, as they appear in
// Content-Encoding.
const (
	encGzip   = "gzip"
	encBrotli = "br"
	encZstd   = "zstd"
)

// zstdWindow and brotliWindow size the encoders' windows, 256 KiB each.
// RFC 9659 allows up to 8 MiB for the "zstd" content coding, and brotli's
// default is 4 MiB, but a pooled encoder keeps memory in proportion to its
// window, from 1.5 to 9 MiB per encoder for the defaults, while on web
// responses (HTML and JSON, up to 4 MiB) a larger window changed the
// compressed size by under 1%.
const (
	zstdWindow   = 256 << 10
	brotliWindow = 18 // log2 of 256 KiB
)

// encoder is the streaming interface the three encoders share.
type encoder interface {
	io.Writer
	Reset(w io.Writer)
	Flush() error // sync flush: everything written so far becomes decodable
	Close() error // ends the stream
}

// codec is one content coding at one level, with its pool of encoders.
// Encoders are taken with get, which resets them onto their destination,
// and handed back with put, which drops the reference to it first.
type codec struct {
	name string
	pool sync.Pool
	zstd bool // the pool holds *zstd.Encoder, with a one-shot path
}

// newCodec returns the codec for a validated encoding name and level.
func newCodec(name string, level int) *codec {
	c := &codec{name: name}
	switch name {
	case encGzip:
		c.pool.New = func() any {
			// The level was validated in New, so this cannot fail.
			w, _ := gzip.NewWriterLevel(io.Discard, level)
			return encoder(w)
		}
	case encBrotli:
		c.pool.New = func() any {
			return encoder(brotli.NewWriterOptions(io.Discard, brotli.WriterOptions{
				Quality: level,
				LGWin:   brotliWindow,
			}))
		}
	case encZstd:
		c.zstd = true
		elevel := zstd.EncoderLevelFromZstd(level)
		c.pool.New = func() any {
			// The options are constants known to be valid, so this cannot
			// fail. Concurrency 1 keeps the encoder synchronous: no
			// goroutines to leak when a pooled encoder is dropped.
			w, _ := zstd.NewWriter(nil,
				zstd.WithEncoderLevel(elevel),
				zstd.WithEncoderConcurrency(1),
				zstd.WithWindowSize(zstdWindow),
				zstd.WithLowerEncoderMem(true),
			)
			return encoder(w)
		}
	}
	return c
}

// get returns a pooled encoder reset to write to dst.
func (c *codec) get(dst io.Writer) encoder {
	e := c.pool.Get().(encoder)
	e.Reset(dst)
	return e
}

// put returns e to the pool. e must not be used afterwards.
func (c *codec) put(e encoder) {
	e.Reset(io.Discard) // drop the reference to the destination
	c.pool.Put(e)
}

// compressAll appends the whole compressed form of src to dst and returns
// it: a complete stream, as the Final phase of a handler produces it.
func (c *codec) compressAll(dst, src []byte) ([]byte, error) {
	e := c.pool.Get().(encoder)
	defer c.pool.Put(e)
	if c.zstd {
		// EncodeAll writes the content size into the frame header and
		// encodes a small body in one block, faster than the stream path.
		return e.(*zstd.Encoder).EncodeAll(src, dst), nil
	}
	sink := &appendWriter{b: dst}
	e.Reset(sink)
	defer e.Reset(io.Discard)
	if _, err := e.Write(src); err != nil {
		return dst, err
	}
	if err := e.Close(); err != nil {
		return dst, err
	}
	return sink.b, nil
}

// appendWriter is an io.Writer that appends to a byte slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
