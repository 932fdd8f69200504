package lifelineotel

import (
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

// Event names on a run's span, each stamped at the moment it happened
// ([lifeline.WithRunEvent]).
const (
	EventFinish            = "lifeline.finish"                 // the answer went out early (Run.Finish)
	EventAbort             = "lifeline.abort"                  // the client left; attributes lifeline.cause, lifeline.ignore_user_abort
	EventTimeLimit         = "lifeline.time_limit"             // the time limit expired
	EventPoolShutdown      = "lifeline.pool_shutdown"          // the pool shut down before the run ended
	EventRunaway           = "lifeline.runaway"                // the run outlived its limit and grace period
	EventShutdownFunctions = "lifeline.shutdown_functions"     // the shutdown functions start
	EventShutdownEnd       = "lifeline.shutdown_functions.end" // they have returned; attribute lifeline.shutdown_functions: how many ran
	EventDelivery          = "lifeline.delivery"               // attribute lifeline.delivery: whether the early answer arrived
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
	// AttrAtEnd marks an abort that happened before the run's span started
	// (the client left while the handler was being called): its moment is
	// not known, and it is stamped with the run's end.
	AttrAtEnd = attribute.Key("lifeline.event.at_end")
)

// Tracer makes one span per run of a [lifeline.Pool]: from the moment the
// run's handler starts to the moment the run ends, work after
// [lifeline.Run.Finish] and shutdown functions included, with the run's
// status and cause as attributes and an event for each thing that happened
// to it, at the moment it happened. Create it with [New], put
// [Tracer.Middleware] inside the pool and give the pool [Tracer.PoolOptions]
// ([Tracer.RunEvent] and [Tracer.RunEnded]):
//
//	tr, err := lifelineotel.New()
//	pool, err := lifeline.NewPool(tr.PoolOptions()...)
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
	runs   sync.Map // run ID → *runSpan, from Middleware or the first event to RunEnded
}

// runSpan is the span of one run, from Middleware until it is ended, or the
// events of a run reported before Middleware started its span.
type runSpan struct {
	mu       sync.Mutex // guards the fields below
	span     trace.Span // nil until Middleware starts it
	events   []event    // stamped as they happened
	ended    bool       // RunEnded came; the span waits for the delivery verdict
	rec      lifeline.Record
	verdict  bool // the delivery event came
	finished bool // the span was ended
}

// event is something that happened to a run.
type event struct {
	name  string
	at    time.Time
	attrs []attribute.KeyValue
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
		rs := t.runSpan(rn.ID())
		rs.mu.Lock()
		traced := rs.span != nil
		rs.mu.Unlock()
		if traced {
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
		rs.mu.Lock()
		rs.span = span // events reported before keep their moments
		rs.mu.Unlock()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// runSpan returns the entry of run id, made if there is none.
func (t *Tracer) runSpan(id uint64) *runSpan {
	if v, ok := t.runs.Load(id); ok {
		return v.(*runSpan)
	}
	v, _ := t.runs.LoadOrStore(id, &runSpan{})
	return v.(*runSpan)
}

// PoolOptions returns the options that feed the Tracer from a pool:
// [lifeline.WithRunEvent] with [Tracer.RunEvent] and [lifeline.WithRunEnded]
// with [Tracer.RunEnded]. Append the pool's other options to them.
func (t *Tracer) PoolOptions() []lifeline.Option {
	return []lifeline.Option{lifeline.WithRunEvent(t.RunEvent), lifeline.WithRunEnded(t.RunEnded)}
}

// RunEvent adds ev to its run's span, stamped with the moment it happened:
// give it to the pool with [lifeline.WithRunEvent]. It returns at once, on
// the goroutine that reports the event. An event of a run that
// [Tracer.Middleware] did not see, or not yet, is ignored.
func (t *Tracer) RunEvent(ev lifeline.Event) {
	var rs *runSpan
	if ev.Kind == lifeline.EventDelivery {
		// The one kind that may come after the run's end: never keep
		// it for a run not seen before.
		v, ok := t.runs.Load(ev.RunID)
		if !ok {
			return
		}
		rs = v.(*runSpan)
	} else {
		// The client may leave before Middleware has seen the run:
		// the event waits for it (RunEnded drops it otherwise).
		rs = t.runSpan(ev.RunID)
	}
	var e event
	switch ev.Kind {
	case lifeline.EventFinish:
		e = event{name: EventFinish}
	case lifeline.EventAbort:
		e = event{name: EventAbort, attrs: []attribute.KeyValue{AttrCause.String(ev.Cause.String())}}
	case lifeline.EventTimeLimit:
		e = event{name: EventTimeLimit}
	case lifeline.EventRunaway:
		e = event{name: EventRunaway}
	case lifeline.EventPoolShutdown:
		e = event{name: EventPoolShutdown}
	case lifeline.EventShutdownStart:
		e = event{name: EventShutdownFunctions}
	case lifeline.EventShutdownEnd:
		e = event{name: EventShutdownEnd}
	case lifeline.EventDelivery:
		e = event{name: EventDelivery, attrs: []attribute.KeyValue{AttrDelivery.String(ev.Delivery.String())}}
	default:
		return
	}
	e.at = ev.At
	rs.mu.Lock()
	if rs.finished {
		rs.mu.Unlock()
		return
	}
	rs.events = append(rs.events, e)
	last := false
	if ev.Kind == lifeline.EventDelivery {
		rs.verdict = true
		last = rs.ended // the run ended before its delivery was decided
		rs.finished = last
	}
	rs.mu.Unlock()
	if last {
		t.runs.Delete(ev.RunID)
		t.end(rs)
	}
}

// RunEnded ends the span of the run rec records: give it to the pool with
// [lifeline.WithRunEnded] (call it from your own function when the pool has
// other uses for the hook). It names the span after the run's route, sets
// the run's final status, cause, code, bytes sent, delivery and flags as
// attributes, marks the span as an error for a panic or a time limit (a
// client that left is not the server's error), and ends it at the run's
// end. When the run called Finish and its delivery is still being decided,
// the span is ended, with the run's end as its end time, when
// [Tracer.RunEvent] gets the verdict. A record of a run that
// [Tracer.Middleware] did not see is ignored.
func (t *Tracer) RunEnded(rec lifeline.Record) {
	v, ok := t.runs.Load(rec.ID)
	if !ok {
		return
	}
	rs := v.(*runSpan)
	rs.mu.Lock()
	if rs.span == nil { // events of a run Middleware never saw
		rs.finished = true
		rs.mu.Unlock()
		t.runs.Delete(rec.ID)
		return
	}
	rs.ended, rs.rec = true, rec
	wait := rec.Finished && rec.Delivery == lifeline.DeliveryPending && !rs.verdict
	rs.finished = !wait
	rs.mu.Unlock()
	if wait {
		return // RunEvent ends it with the verdict
	}
	t.runs.Delete(rec.ID)
	t.end(rs)
}

// end sets the span's name, attributes, events and status from the run's
// record and what was reported, and ends it at the run's end.
func (t *Tracer) end(rs *runSpan) {
	rs.mu.Lock()
	rec := rs.rec
	events := append([]event(nil), rs.events...)
	rs.mu.Unlock()
	end := rec.Start.Add(rec.Duration)
	span := rs.span
	span.SetName(t.opts.spanName(rec.Route, rec.Method))
	span.SetAttributes(
		AttrRoute.String(rec.Route), AttrStatus.String(rec.Status.String()), AttrCause.String(rec.Cause.String()),
		AttrStatusCode.Int(rec.Code), AttrBytesSent.Int64(rec.BytesSent), AttrFinished.Bool(rec.Finished),
		AttrRunaway.Bool(rec.Runaway), AttrPanicked.Bool(rec.Panicked), AttrIgnoreUserAbort.Bool(rec.IgnoreUserAbort),
		AttrShutdownFuncs.Int(rec.ShutdownFuncs),
	)
	aborted := false
	for i := range events {
		switch events[i].name {
		case EventAbort:
			aborted = true
			events[i].attrs = append(events[i].attrs, AttrIgnoreUserAbort.Bool(rec.IgnoreUserAbort))
		case EventShutdownEnd:
			events[i].attrs = append(events[i].attrs, AttrShutdownFuncs.Int(rec.ShutdownFuncs))
		case EventDelivery:
			span.SetAttributes(events[i].attrs...) // the verdict, also when it came after the run's end
		}
	}
	if rec.Finished && !hasEvent(events, EventDelivery) {
		span.SetAttributes(AttrDelivery.String(rec.Delivery.String()))
	}
	// A client that left before the span started (while the handler was
	// being called) was reported before Middleware saw the run.
	if rec.Status&lifeline.Aborted != 0 && rec.Cause != lifeline.CauseTimeLimit && rec.Cause != lifeline.CauseShutdown && !aborted {
		events = append(events, event{EventAbort, end, []attribute.KeyValue{
			AttrCause.String(rec.Cause.String()), AttrIgnoreUserAbort.Bool(rec.IgnoreUserAbort), AttrAtEnd.Bool(true)}})
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

func hasEvent(events []event, name string) bool {
	for _, e := range events {
		if e.name == name {
			return true
		}
	}
	return false
}
