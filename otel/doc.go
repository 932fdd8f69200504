// Package lifelineotel traces the runs of a [lifeline.Pool] with
// OpenTelemetry: one span per run, from the moment its handler starts to
// the moment the run ends, so that work after [lifeline.Run.Finish] and
// shutdown functions show up in traces, which a request span alone
// (otelhttp's ends when the answer was handed over) misses.
//
//	tr, err := lifelineotel.New() // the global TracerProvider
//	pool, err := lifeline.NewPool(tr.PoolOptions()...)
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
// for each thing that happened to the run, stamped at the moment it happened
// ([lifeline.WithRunEvent]): [EventFinish], [EventAbort] with its cause (also
// when the run ignores user aborts), [EventTimeLimit], [EventPoolShutdown],
// [EventRunaway], [EventShutdownFunctions] and [EventShutdownEnd], and
// [EventDelivery]. A run whose early answer is still being delivered when it
// ends keeps its span open (with the run's end as its end time) until the
// verdict comes; [lifeline.Pool.Shutdown] waits for it, or decides it
// unknown when its ctx ends first, so no span is left open. Only an abort
// that happened before the tracer's middleware started the span and was not
// reported to it carries lifeline.event.at_end and the run's end as its
// time. A panic, a runaway and a time limit make the span an error; a client
// that left does not.
//
// It is a module of its own, so that programs that do not trace do not
// compile OpenTelemetry.
package lifelineotel
