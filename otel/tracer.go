package lifelineotel

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/lifeline-go/lifeline"
)

// instrumentationName is the tracer's name: this package's import path.
const instrumentationName = "github.com/lifeline-go/lifeline/otel"

// Event names on a run's span.
const (
	EventFinish            = "lifeline.finish"             // the answer went out early (Run.Finish)
	EventAbort             = "lifeline.abort"              // the client left; attribute lifeline.cause
	EventTimeLimit         = "lifeline.time_limit"         // the time limit expired
	EventPoolShutdown      = "lifeline.pool_shutdown"      // the pool shut down before the run ended
	EventRunaway           = "lifeline.runaway"            // the run outlived its limit and grace period
	EventShutdownFunctions = "lifeline.shutdown_functions" // attribute lifeline.shutdown_functions: how many ran
	EventDelivery          = "lifeline.delivery"           // attribute lifeline.delivery: whether the early answer arrived
)

// Attribute keys on a run's span and its events.
const (
	AttrRunID           = attribute.Key("lifeline.run.id")
	AttrRoute           = attribute.Key("lifeline.route")
	AttrStatus          = attribute.Key("lifeline.status") // normal, aborted, timeout, aborted|timeout
	AttrCause           = attribute.Key("lifeline.cause")  // why the status left normal
	AttrFinished        = attribute.Key("lifeline.finished")
	AttrRunaway         = attribute.Key("lifeline.runaway")
	AttrPanicked        = attribute.Key("lifeline.panicked")
	AttrIgnoreUserAbort = attribute.Key("lifeline.ignore_user_abort")
	AttrShutdownFuncs   = attribute.Key("lifeline.shutdown_functions")
	AttrDelivery        = attribute.Key("lifeline.delivery")
	AttrBytesSent       = attribute.Key("lifeline.bytes_sent")
	AttrStatusCode      = attribute.Key("http.response.status_code")
	AttrMethod          = attribute.Key("http.request.method")
	AttrPath            = attribute.Key("url.path")
	// AttrAtEnd marks an event whose moment the run's record does not
	// give: it is stamped with the run's end.
	AttrAtEnd = attribute.Key("lifeline.event.at_end")
)

// Tracer makes one span per run of a [lifeline.Pool]: from the moment the
// run's handler starts to the moment the run ends, work after
// [lifeline.Run.Finish] and shutdown functions included, with the run's
// status and cause as attributes and an event for each thing that happened
// to it. Create it with [New], put [Tracer.Middleware] inside the pool and
// give [Tracer.RunEnded] to the pool with [lifeline.WithRunEnded]:
//
//	tr, err := lifelineotel.New()
//	pool, err := lifeline.NewPool(lifeline.WithRunEnded(tr.RunEnded))
//	handler := otelhttp.NewHandler(pool.Middleware()(tr.Middleware(router)), "shop")
//
// With otelhttp outside the pool, as here, each run's span is a child of
// otelhttp's request span, in the same trace ([WithNewRoot] links them
// instead). The request span ends when the answer was handed over (at
// Finish for an early answer); the run's span goes on to the run's end.
//
// A Tracer's methods may be called from any goroutine.
type Tracer struct {
	tracer trace.Tracer
	opts   options
	runs   sync.Map // run ID → *runSpan, from Middleware to RunEnded
}

// runSpan is the span of one live run and what was seen of the run while it
// ran.
type runSpan struct {
	span trace.Span
	// ctx is the run's own context, kept to tell in RunEnded whether it
	// was cancelled before the run ended.
	ctx   context.Context
	fired chan struct{} // closed when the context's AfterFunc has run

	mu     sync.Mutex // guards events
	events []event    // stamped as they happened
}

// event is something that happened to a run, seen while it ran.
type event struct {
	name string
	at   time.Time
}

// New returns a Tracer. A nil option is an error wrapping
// [ErrInvalidOption], naming its position.
func New(opts ...Option) (*Tracer, error) {
	o := defaultOptions()
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: option %d is nil", ErrInvalidOption, i)
		}
		opt.apply(&o)
	}
	if o.provider == nil {
		o.provider = otel.GetTracerProvider()
	}
	if o.spanName == nil {
		return nil, fmt.Errorf("%w: WithSpanName(nil)", ErrInvalidOption)
	}
	return &Tracer{tracer: o.provider.Tracer(instrumentationName), opts: o}, nil
}

// Middleware starts the span of the run that serves each request, and hands
// next a request whose context carries it, so that spans made by the
// handler are its children. Put it inside the pool, on the run's goroutine:
// pool.Middleware()(tr.Middleware(router)). A request that is not a run's
// (Middleware outside any pool) passes through untraced. The span ends in
// [Tracer.RunEnded].
func (t *Tracer) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, ok := lifeline.FromContext(r.Context())
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if _, traced := t.runs.Load(rn.ID()); traced {
			next.ServeHTTP(w, r) // a second Tracer.Middleware in the chain
			return
		}
		runCtx := r.Context()
		opts := []trace.SpanStartOption{
			trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(AttrRunID.Int64(int64(rn.ID())), AttrMethod.String(r.Method), AttrPath.String(r.URL.Path)),
		}
		if t.opts.newRoot {
			opts = append(opts, trace.WithNewRoot())
			if sc := trace.SpanContextFromContext(runCtx); sc.IsValid() {
				opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
			}
		}
		ctx, span := t.tracer.Start(runCtx, t.opts.spanName("", r.Method), opts...)
		rs := &runSpan{span: span, ctx: runCtx, fired: make(chan struct{})}
		t.runs.Store(rn.ID(), rs)
		// The run's context is cancelled, with the reason as its cause, when
		// the client leaves (unless the run ignores it), when the time limit
		// expires, when the pool shuts down, and when the run ends.
		context.AfterFunc(runCtx, func() {
			defer close(rs.fired)
			at := time.Now()
			cause := context.Cause(runCtx)
			var name string
			switch {
			case errors.Is(cause, lifeline.ErrTimeLimit):
				name = EventTimeLimit
			case errors.Is(cause, lifeline.ErrClientAborted):
				name = EventAbort
			case errors.Is(cause, lifeline.ErrServerShutdown):
				name = EventPoolShutdown
			default:
				return // the run ended
			}
			rs.mu.Lock()
			rs.events = append(rs.events, event{name, at})
			rs.mu.Unlock()
		})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// RunEnded ends the span of the run rec records, at the run's end: give it
// to the pool with [lifeline.WithRunEnded] (call it from your own function
// when the pool has other uses for the hook). It names the span after the
// run's route, sets the run's final status, cause, code, bytes sent,
// delivery and flags as attributes, adds the events, marks the span as an
// error for a panic or a time limit (a client that left is not the
// server's error), and ends it. A record of a run that
// [Tracer.Middleware] did not see is ignored.
func (t *Tracer) RunEnded(rec lifeline.Record) {
	v, ok := t.runs.LoadAndDelete(rec.ID)
	if !ok {
		return
	}
	rs := v.(*runSpan)
	end := rec.Start.Add(rec.Duration)
	span := rs.span
	span.SetName(t.opts.spanName(rec.Route, rec.Method))
	span.SetAttributes(
		AttrRoute.String(rec.Route), AttrStatus.String(rec.Status.String()), AttrCause.String(rec.Cause.String()),
		AttrStatusCode.Int(rec.Code), AttrBytesSent.Int64(rec.BytesSent), AttrFinished.Bool(rec.Finished),
		AttrRunaway.Bool(rec.Runaway), AttrPanicked.Bool(rec.Panicked), AttrIgnoreUserAbort.Bool(rec.IgnoreUserAbort),
		AttrShutdownFuncs.Int(rec.ShutdownFuncs),
	)
	if rec.Finished {
		span.SetAttributes(AttrDelivery.String(rec.Delivery.String()))
	}

	if rs.ctx.Err() != nil {
		// Cancelled before the run ended (the run context ends with the
		// run only after this hook): its AfterFunc has started; let it
		// note the moment.
		<-rs.fired
	}
	rs.mu.Lock()
	seen := append([]event(nil), rs.events...)
	rs.mu.Unlock()
	type stamped struct {
		event
		attrs []attribute.KeyValue
	}
	var events []stamped
	has := func(name string) bool {
		for _, e := range seen {
			if e.name == name {
				return true
			}
		}
		return false
	}
	for _, e := range seen {
		// The AfterFunc notes the moment a little after the cancellation;
		// it was before the run's end.
		if e.at.After(end) {
			e.at = end
		}
		events = append(events, stamped{e, eventAttrs(e.name, rec)})
	}
	atEnd := func(name string) {
		events = append(events, stamped{event{name, end}, append(eventAttrs(name, rec), AttrAtEnd.Bool(true))})
	}
	if rec.Finished {
		events = append(events, stamped{event{EventFinish, rec.Start.Add(rec.FinishedAfter)}, nil})
	}
	// A client that left a run ignoring it, or a limit that hit after the
	// context was already cancelled, cancels nothing: the record says so.
	if rec.Status&lifeline.Aborted != 0 && rec.Cause != lifeline.CauseTimeLimit && rec.Cause != lifeline.CauseShutdown && !has(EventAbort) {
		atEnd(EventAbort)
	}
	if rec.Status&lifeline.Timeout != 0 && !has(EventTimeLimit) {
		atEnd(EventTimeLimit)
	}
	if rec.Runaway {
		atEnd(EventRunaway)
	}
	if rec.ShutdownFuncs > 0 {
		atEnd(EventShutdownFunctions)
	}
	if rec.Finished {
		atEnd(EventDelivery)
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].at.Before(events[j].at) })
	for _, e := range events {
		span.AddEvent(e.name, trace.WithTimestamp(e.at), trace.WithAttributes(e.attrs...))
	}

	switch {
	case rec.Panicked:
		span.SetStatus(codes.Error, "handler panicked")
	case rec.Runaway:
		span.SetStatus(codes.Error, "runaway: still running past its time limit and grace period")
	case rec.Status&lifeline.Timeout != 0:
		span.SetStatus(codes.Error, "time limit exceeded")
	}
	span.End(trace.WithTimestamp(end))
}

// eventAttrs returns the attributes of event name, from the run's record.
func eventAttrs(name string, rec lifeline.Record) []attribute.KeyValue {
	switch name {
	case EventAbort:
		return []attribute.KeyValue{AttrCause.String(rec.Cause.String()), AttrIgnoreUserAbort.Bool(rec.IgnoreUserAbort)}
	case EventShutdownFunctions:
		return []attribute.KeyValue{AttrShutdownFuncs.Int(rec.ShutdownFuncs)}
	case EventDelivery:
		return []attribute.KeyValue{AttrDelivery.String(rec.Delivery.String())}
	}
	return nil
}
