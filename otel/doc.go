// Package lifelineotel traces the runs of a [lifeline.Pool] with
// OpenTelemetry: one span per run, from the moment its handler starts to
// the moment the run ends, so that work after [lifeline.Run.Finish] and
// shutdown functions show up in traces, which a request span alone
// (otelhttp's ends when the answer was handed over) misses.
//
//	tr, err := lifelineotel.New() // the global TracerProvider
//	pool, err := lifeline.NewPool(lifeline.WithRunEnded(tr.RunEnded))
//	handler := otelhttp.NewHandler(pool.Middleware()(tr.Middleware(router)), "shop")
//
// Behind otelhttp, a run's span is a child of the request span, in the same
// trace; [WithNewRoot] makes it a root linked to the request span instead.
// Spans the handler starts from the request's context are children of the
// run's span.
//
// The span is named after the run's route ("run order", [lifeline.WithRoute]),
// carries the run's final status and cause (lifeline.status,
// lifeline.cause), code, bytes sent, delivery and flags, and has an event
// for each thing that happened to the run: [EventFinish], [EventAbort] with
// its cause, [EventTimeLimit], [EventPoolShutdown], [EventRunaway],
// [EventShutdownFunctions] and [EventDelivery]. Finish, an abort that
// cancels the run's context, the time limit and the pool's shutdown are
// stamped when they happened; the others (an abort under ignore_user_abort,
// a runaway, the shutdown functions, the delivery) are known from the run's
// final record only and are stamped with the run's end, with the attribute
// lifeline.event.at_end. A panic, a runaway and a time limit make the span
// an error; a client that left does not.
//
// It is a module of its own, so that programs that do not trace do not
// compile OpenTelemetry.
package lifelineotel
