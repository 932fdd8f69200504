// Package lifeline gives net/http handlers PHP's connection-handling model,
// done better than PHP does it.
//
// Each request served through a [Pool] becomes a [Run]: the handler runs on
// its own goroutine (the run side) with its own context and output stack,
// while net/http's ServeHTTP goroutine (the connection side) owns the
// ResponseWriter. The connection side lends it to the run side, which writes
// to it under a lock, and takes it back when it must act: at the end of the
// run, at [Run.Finish], for a runaway, or for a write stuck on a client that
// does not read, which it wakes with a write deadline. That split
// is what lets a handler answer early and keep working, lets a stuck
// handler's client still get an answer, and lets the run outlive its client
// but not its time limit.
//
//	pool, err := lifeline.NewPool(lifeline.WithTimeLimit(30 * time.Second))
//	...
//	mux := http.NewServeMux()
//	mux.HandleFunc("/order", order)
//	srv := &http.Server{Handler: pool.Middleware()(mux)} // one run per request
//	pool.ConfigureServer(srv)                              // abort detection on the socket
//
//	func order(w http.ResponseWriter, r *http.Request) {
//		rn, _ := lifeline.FromContext(r.Context())
//		rn.IgnoreUserAbort(true) // the charge and the insert must both happen
//		rn.RegisterShutdown(func(ctx context.Context, rn *lifeline.Run) {
//			if rn.Aborted() { markUnconfirmed(ctx) }
//		})
//		charge(r.Context()) // survives a client disconnect, not the time limit
//	}
//
// # One way in
//
// [Pool.Middleware] is the only entry point, ordinary middleware for any
// router (chi's Use and With, gorilla/mux's Use, alice, or a handler for
// [net/http.ServeMux]). Wrap the whole server once; a route that needs other
// settings wraps its handler with the same pool's Middleware and its own
// options, which then adjust the run the outer middleware made instead of
// starting a second one:
//
//	slow := pool.Middleware(lifeline.WithTimeLimit(5*time.Minute), lifeline.WithRoute("export"))
//	mux.Handle("/export", slow(exportHandler))
//	srv.Handler = pool.Middleware()(mux)
//
// Options are checked once, when Middleware is called: a bad one panics
// there, at set-up, as http.ServeMux.Handle does on a bad pattern; no request
// ever sees it.
//
// # PHP to Lifeline
//
//	PHP                                     Lifeline
//	connection_status()                     Run.Status (Normal, Aborted, Timeout, both = 3)
//	connection_aborted()                    Run.Aborted
//	ignore_user_abort(bool) (ini too)       Run.IgnoreUserAbort (prev bool), WithIgnoreUserAbort
//	max_execution_time                      WithTimeLimit (wall time; 0 = unlimited)
//	nginx send_timeout                      WithStallTimeout (60 s; 0 = off)
//	set_time_limit(n)                       Run.SetTimeLimit (restarts the counter)
//	register_shutdown_function              Run.RegisterShutdown
//	hard_timeout                            WithShutdownBudget, WithGracePeriod
//	fastcgi_finish_request                  Run.Finish
//	output_buffering ini                    WithOutputBuffering (base buffer, 4096)
//	ob_start, ob_get_clean, flush() ...     Run.Output (package output)
//	pm.max_children                         WithMaxActive, WithQueueTimeout
//	pm.status_path                          package status over Pool.Active, Pool.Recent, Pool.Stats
//
// # Aborts
//
// PHP notices a client that left only when a write fails, and never notices
// one that vanished silently. Lifeline watches the socket: with
// [Pool.ConfigureServer] on the http.Server, a FIN or RST is seen within
// microseconds on Linux while the handler writes nothing, including an
// HTTP/1 POST whose body was not read and a connection with a pipelined
// request waiting (both missed by net/http alone). A silent peer, one that
// acknowledges nothing (no ACK, no answer to a window or keep-alive probe),
// is seen within its dead-peer timeout plus one check, whether the handler
// writes or not, over HTTP/1 and HTTP/2: package server sets the timeout (4 s
// by default) with TCP keep-alive and HTTP/2 PINGs, and the pool decides from
// each busy connection's TCP_INFO ([Pool.ConfigureServerWith],
// [ServerConfig]). A slow or paused reader that acknowledges is alive and is
// never taken for a silent peer.
//
// Without ignore_user_abort the run context is cancelled with
// [ErrClientAborted] (or [ErrPeerReset], [ErrSilentPeer], [ErrStalled],
// which match it) as its cause, and the run is terminated at its next Write,
// WriteHeader, Flush or [Run.Check] by a panic with [ErrTerminated]. With
// ignore_user_abort the run goes on, its output is discarded, and its status
// says Aborted.
//
// # Termination
//
// [ErrTerminated] is [net/http.ErrAbortHandler] itself: the recoverers of
// chi and echo re-panic it and gin's takes it for a broken connection, so a
// termination is neither logged as a crash nor turned into a 500; the engine
// recovers it. The run knows it was terminated whatever a recoverer inside
// it does: if the recoverer swallows the panic and writes an answer of its
// own, that answer never reaches the client as a complete response (the
// timeout response if nothing was sent yet, a cut response otherwise), and
// its WriteHeader terminates the run again. Code that recovers panics should
// re-panic it; errors.Is(v, ErrTerminated) tells it.
//
// # Stalled clients
//
// A client that is alive but takes nothing (a zero TCP or HTTP/2 window) is
// not a silent peer. [WithStallTimeout] bounds it like nginx's send_timeout:
// when one call on the response has waited 60 s (the default), the run is
// aborted with [CauseStalled] ([ErrStalled]) and the response is cut. 0 turns
// the bound off; the time limit still applies.
//
// # Time limits
//
// On expiry the status gains Timeout, the context is cancelled with
// [ErrTimeLimit], and the run is terminated at its next output or Check. A
// write in flight at the limit, or begun after it, gets a short write
// deadline (a quarter of a second, or the grace period if shorter): one
// that completes is not cut, one stuck on a client that does not read
// fails and the response is cut. A client
// that got nothing receives 503 ([WithTimeoutResponse]). A handler that still
// runs after the grace period ([WithGracePeriod]) is declared runaway: the
// connection side answers for it, or cuts the response short when headers
// were already sent, so a partial body never looks complete. No client
// behaviour keeps a response open past the time limit plus grace.
//
// # Nothing crashes, nothing hangs
//
// A panic of the handler or of an output handler (including a compressor's
// final flush) is recovered and logged: the client gets a 500 if nothing was
// sent, a cut response otherwise. A panic of a shutdown function or a
// release hook is logged and the others still run. Calls on the run's
// ResponseWriter after the run ended return at once, with [ErrRunEnded]
// where they return an error. The run context is cancelled with cause
// [ErrRunEnded] when the run ends; [Run.Finish] does not cancel it.
//
// # Order at the end of a run
//
// Handler, shutdown functions (their output still reaches the client), the
// [Run.BeforeRelease] hooks (sessions are written and unlocked), the final
// flush of every output buffer with an exact Content-Length when the whole
// body is known, then the trailers (declared with the Trailer header, or set
// with [net/http.TrailerPrefix]), and the response ends. [Record.Code] is the
// status code the client was sent, 0 if none.
//
// For a body shorter than 2 KiB written in one piece at the end of the run
// or at Finish, by a handler that set no header, Lifeline leaves
// Content-Length to net/http, which sends the same exact length over HTTP/1
// and HTTP/2. A [net/http/httptest.ResponseRecorder] does not compute it and
// shows no Content-Length for such bodies.
package lifeline
