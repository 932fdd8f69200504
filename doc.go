// Package lifeline gives net/http handlers PHP's connection-handling model,
// done better than PHP does it.
//
// Each request served through a [Pool] becomes a [Run]: the handler runs on
// its own goroutine with its own context and output stack, while net/http's
// ServeHTTP goroutine (the connection side) keeps sole ownership of the
// ResponseWriter and hands data over by channel. That split is what lets a
// handler answer early and keep working ([Run.Finish]), lets a stuck handler's
// client still get an answer, and lets the run outlive its client but not its
// time limit.
//
//	pool, err := lifeline.NewPool(lifeline.WithTimeLimit(30 * time.Second))
//	...
//	http.Handle("/order", pool.Handler(http.HandlerFunc(order)))
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
// # PHP to Lifeline
//
//	PHP                                     Lifeline
//	connection_status()                     Run.Status (Normal, Aborted, Timeout, both = 3)
//	connection_aborted()                    Run.Aborted
//	ignore_user_abort(bool) (ini too)       Run.IgnoreUserAbort (prev bool), WithIgnoreUserAbort
//	max_execution_time                      WithTimeLimit (wall time; 0 = unlimited)
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
// microseconds while the handler writes nothing, including an HTTP/1 POST
// whose body was not read and a connection with a pipelined request waiting
// (both missed by net/http alone); package server adds keep-alive and
// TCP_USER_TIMEOUT settings so a silent peer is seen within seconds. Without
// ignore_user_abort the run context is cancelled with [ErrClientAborted] as
// its cause and the run is terminated at its next Write, Flush or [Run.Check]
// by a panic with [ErrTerminated], which the engine recovers: code that
// recovers panics must re-panic it. With ignore_user_abort the run goes on,
// its output is discarded, and its status says Aborted.
//
// # Time limits
//
// On expiry the status gains Timeout, the context is cancelled with
// [ErrTimeLimit], and the run is terminated at its next output or Check. A
// client that got nothing receives 503 ([WithTimeoutResponse]). A handler that
// still runs after the grace period is declared runaway: the connection side
// answers for it, or cuts the response short when headers were already sent,
// so a partial body never looks complete.
//
// # Order at the end of a run
//
// Handler, shutdown functions (their output still reaches the client), the
// [Run.BeforeRelease] hooks (sessions are written and unlocked), the final
// flush of every output buffer with an exact Content-Length when the whole
// body is known, then the response ends.
package lifeline
