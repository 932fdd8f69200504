// Package output is PHP's output layer for Go: a stack of buffers between a
// handler's writes and the client, with output handlers, chunk sizes and
// PHP's exact rules (main/output.c).
//
// # PHP to Go
//
//	ob_start($cb, $chunk, $flags)   s.Start(h, chunk, flags)
//	ob_flush / ob_clean             s.Flush / s.Clean
//	ob_end_flush / ob_end_clean     s.EndFlush / s.EndClean
//	ob_get_clean / ob_get_flush     s.GetClean / s.GetFlush
//	ob_get_contents / ob_get_length s.Contents / s.Length
//	ob_get_level / ob_get_status    s.Level / s.Status
//	ob_implicit_flush               s.SetImplicitFlush
//	flush()                         s.FlushClient
//	headers_sent($file, $line)      s.HeadersSentAt
//	php_output_end_all (request end, fastcgi_finish_request)  s.EndAll
//
// Inside a Lifeline run, the run's ResponseWriter is the front of its Stack
// ([github.com/lifeline-go/lifeline.Run.Output]); the run starts a base buffer like PHP's
// output_buffering ini (4096 bytes by default) and calls EndAll at Finish and
// at the end of the run, which is when Content-Length is set exactly.
//
// # Handlers
//
// A [Handler] gets the whole buffer and the operation bits ([Op]) (start=1, clean=2,
// flush=4, final=8) and returns the bytes to pass down. It runs when a write
// leaves the buffer at or over its chunk size (a write is never split), and on
// Flush, Clean and End. Returning an error disables it, as PHP's false: the
// raw bytes pass through and the handler is never called again.
//
// # Headers
//
// The header goes out when the first byte reaches the client side, or at
// FlushClient or EndAll. Changing the status afterwards returns a
// [*HeadersSentError] naming the file and line whose output sent it (PHP's
// "headers already sent by (output started at file:line)").
package output
