package compress

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/output"
)

// Start pushes a compression level onto the output stack s of the run
// serving r, as ob_start("ob_gzhandler") does in PHP; when the stack holds
// only the run's untouched base buffer and the client accepts a coding, the
// level takes its place, as zlib.output_compression does. It returns the error
// of [output.Stack.Start], wrapped, if the level cannot be pushed. Call it
// on the run's goroutine, before the output it should compress. The level
// is flushed with the others when the response ends (at the end of the run
// or at [lifeline.Run.Finish]), so the output of shutdown functions that
// run before Finish is compressed too.
//
// The content coding is negotiated from r's Accept-Encoding (see
// [Negotiate]) at once; the rest is decided when the level's handler first
// runs, which, with the default chunk size of 0, is at the first flush or at
// the end of the response. The body then goes out as it is (the handler
// steps aside, as an output handler returning [output.ErrDecline]) if:
//   - the headers have already been sent, or r is a HEAD request;
//   - the status is 1xx, 204, 304 or 206, or Content-Range is set;
//   - Content-Encoding is set, to anything: set it (or set
//     Header()["Content-Encoding"] = nil, which sends no such header) to
//     keep one response uncompressed, as PHP's "Content-Encoding: none"
//     recipe does;
//   - the Content-Type is not compressible (see [WithContentTypes]); when
//     none is set, it is sniffed from the first bytes with
//     [http.DetectContentType] and set, as net/http would;
//   - the whole body is known and is shorter than [WithMinSize], or empty,
//     or does not get smaller;
//   - the client accepts none of the codings: then "Vary: Accept-Encoding"
//     is still added, since another client would get a compressed body.
//
// Otherwise the handler sets Content-Encoding, adds Accept-Encoding to Vary
// (keeping the values there), turns a strong ETag into a weak one, removes
// Accept-Ranges, and:
//   - if the whole body is known at once (the response ends, or Finish is
//     called, before any flush), compresses it and sets Content-Length to
//     the compressed length, replacing any length the code set itself. PHP
//     gives up compression when Content-Length is set; Lifeline corrects the
//     length instead, so PHP's "answer early" recipe (buffer, set
//     Content-Length, flush, keep working) is both compressed and exact;
//   - otherwise streams: Content-Length is removed, each flush of the level
//     (an ob_flush, or [http.Flusher] through the run's writer) makes
//     everything written so far decodable by the client, and the end of the
//     response ends the compressed stream.
//
// Cleaning the level (Clean, EndClean) before anything was compressed
// discards the buffer and starts afresh; afterwards it discards the buffer
// only. Starting a second compression level on the same stack is harmless
// (PHP refuses ob_gzhandler twice): the upper one compresses, and the lower
// one, finding Content-Encoding set, steps aside. For a client that accepts none of the codings, and for HEAD, the
// level is started with a chunk size of 1, so it steps aside at the first
// write instead of holding the body back.
func (c *Compressor) Start(s *output.Stack, r *http.Request) error {
	h := c.newHandler(s, r)
	chunk := c.opts.chunkSize
	if st := s.Status(); h.codec != nil && !h.head && len(st) == 1 && st[0].Base &&
		!st[0].Started && st[0].Used == 0 && st[0].Flags&output.Removable != 0 {
		// Take the place of the run's untouched base buffer, as
		// zlib.output_compression takes output_buffering's, so that ending
		// the code's own buffers and flushing (the seed's recipe) reaches
		// the compressor. The level keeps its own chunk size (0 by default:
		// the whole body is held, so its compressed length is exact).
		if err := s.EndClean(); err != nil {
			return fmt.Errorf("compress: start: %w", err)
		}
	}
	if h.codec == nil || h.head {
		chunk = 1
	}
	if err := s.Start(h, chunk, output.StdFlags); err != nil {
		return fmt.Errorf("compress: start: %w", err)
	}
	return nil
}

// Handler returns middleware that compresses the responses of next. Inside
// a Lifeline run (the request went through [lifeline.Pool.Middleware]) it calls
// [Compressor.Start] on the run's output stack and then next; if Start
// fails it logs the error to the [WithLogger] logger and serves next
// uncompressed.
//
// Outside a run there is no output stack to push onto: Handler then calls
// next as it is, uncompressed, and logs nothing. Put the Lifeline
// middleware outside this one.
func (c *Compressor) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rn, ok := lifeline.FromContext(r.Context()); ok {
			if err := c.Start(rn.Output(), r); err != nil {
				c.opts.logger.LogAttrs(r.Context(), slog.LevelWarn, "compress: response left uncompressed",
					slog.Any("error", err))
			}
		}
		next.ServeHTTP(w, r)
	})
}
