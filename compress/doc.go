// Package compress compresses Lifeline responses with zstd, brotli or gzip,
// as an output handler on the run's output stack: PHP's ob_gzhandler and
// zlib.output_compression, with the Content-Length right.
//
// # Use
//
// Create one [Compressor] for the server and put its middleware inside the
// Lifeline one:
//
//	c, err := compress.New()
//	if err != nil { ... }
//	http.Handle("/", pool.Middleware()(c.Handler(app)))
//
// or start compression for one response from inside a handler with
// [Compressor.Start]. Outside a Lifeline run the middleware does nothing.
//
//	PHP                                      Lifeline
//	zlib.output_compression=On               Compressor.Handler
//	ob_start("ob_gzhandler")                 Compressor.Start
//	Accept-Encoding substring, gzip/deflate  Negotiate: q-values; zstd, br, gzip
//	header("Content-Length: n") turns it off the length becomes the compressed one
//
// # Content-Length
//
// In PHP, setting Content-Length switches compression off, so the usual
// "answer early" recipe (buffer, set Content-Length, flush, keep working) is
// never compressed. Here, when the whole body is known at once (the run ends,
// or calls [lifeline.Run.Finish], without flushing first), it is compressed
// in one go and Content-Length is set to the exact compressed length,
// replacing any the code set. A response flushed before its end is streamed
// instead: each flush makes everything written so far decodable by the
// client (server-sent events work), and there is no Content-Length.
//
// # Choices
//
// The content coding is negotiated with [Negotiate] from Accept-Encoding,
// with q-values, "*" and "identity;q=0" handled as RFC 9110 says, and the
// server's order ([WithEncodings]) breaking ties. A response is left alone
// when compression cannot help or would be wrong: HEAD, 1xx, 204, 304, 206
// and Content-Range, an existing Content-Encoding, already compressed
// types ([Compressible]), bodies under [WithMinSize]; the rules are listed
// on [Compressor.Start]. A compressed response gets "Vary: Accept-Encoding"
// added to any Vary already there, and a weak ETag.
//
// # Cost
//
// gzip and zstd come from github.com/klauspost/compress, brotli from
// github.com/andybalholm/brotli. Encoders are pooled per Compressor and
// reused with Reset; gzip runs 2 to 4 times as fast as the standard
// library's at the same (default) level. Figures are in
// docs/bench/compress.md.
package compress
