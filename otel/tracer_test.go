package lifelineotel_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/lifelinetest"
	lifelineotel "github.com/lifeline-go/lifeline/otel"
)

// setup returns a Tracer whose spans go to the SDK's in-memory recorder,
// and a test pool whose ended runs end their spans.
func setup(t *testing.T, opts []lifelineotel.Option, poolOpts ...lifeline.Option) (*lifelineotel.Tracer, *tracetest.SpanRecorder, *sdktrace.TracerProvider, *lifelinetest.Pool) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	tr, err := lifelineotel.New(append([]lifelineotel.Option{lifelineotel.WithTracerProvider(tp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	p := lifelinetest.NewPool(t, append(poolOpts, tr.PoolOptions()...)...)
	return tr, sr, tp, p
}

// runSpan returns the one ended span named name, or otelhttp's server span
// for name "request".
func runSpan(t *testing.T, sr *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		if s.Name() == name || name == "request" && s.SpanKind() == trace.SpanKindServer {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d ended spans named %q, want 1 (all: %v)", len(found), name, names(sr.Ended()))
	}
	return found[0]
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

// attr returns the span's attribute k.
func attr(s sdktrace.ReadOnlySpan, k attribute.Key) attribute.Value {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// event returns the span's event name, and whether it has one.
func event(s sdktrace.ReadOnlySpan, name string) (sdktrace.Event, bool) {
	for _, e := range s.Events() {
		if e.Name == name {
			return e, true
		}
	}
	return sdktrace.Event{}, false
}

func eventAttr(e sdktrace.Event, k attribute.Key) attribute.Value {
	for _, kv := range e.Attributes {
		if kv.Key == k {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// TestFinishWithOtelhttp: behind otelhttp, the run's span is a child of the
// request span, outlives it by the work after Finish, and has the finish
// and delivery events.
func TestFinishWithOtelhttp(t *testing.T) {
	tr, sr, tp, p := setup(t, nil)
	const work = 50 * time.Millisecond
	order := p.Middleware(lifeline.WithRoute("order"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		w.WriteHeader(http.StatusCreated)
		rn.Finish()
		time.Sleep(work) // the e-mail
	}))
	h := otelhttp.NewHandler(p.Middleware()(tr.Middleware(order)), "request", otelhttp.WithTracerProvider(tp))
	srv := p.NewServer(h)
	res := srv.Do(httptest.NewRequest("POST", "/order", nil))
	if res.Err != nil || res.Code != http.StatusCreated {
		t.Fatalf("POST /order = %d, %v", res.Code, res.Err)
	}
	rec := res.Record()
	run, req := runSpan(t, sr, "run order"), runSpan(t, sr, "request")
	if run.Parent().SpanID() != req.SpanContext().SpanID() || run.SpanContext().TraceID() != req.SpanContext().TraceID() {
		t.Errorf("run span's parent = %v, want otelhttp's request span %v", run.Parent().SpanID(), req.SpanContext().SpanID())
	}
	if !run.EndTime().After(req.EndTime()) || run.EndTime().Sub(run.StartTime()) < work {
		t.Errorf("run span %v-%v, request span ends %v: want the run's span to cover the %v after Finish",
			run.StartTime(), run.EndTime(), req.EndTime(), work)
	}
	if !run.EndTime().Equal(rec.Start.Add(rec.Duration)) {
		t.Errorf("run span ends %v, want the run's end %v", run.EndTime(), rec.Start.Add(rec.Duration))
	}
	fin, ok := event(run, lifelineotel.EventFinish)
	if !ok || fin.Time.Before(rec.Start.Add(rec.FinishedAfter)) || !fin.Time.Before(req.EndTime()) {
		t.Errorf("finish event %+v (found %v), want one after Finish was called (%v), before the request span ended (%v)",
			fin, ok, rec.Start.Add(rec.FinishedAfter), req.EndTime())
	}
	if d, ok := event(run, lifelineotel.EventDelivery); !ok || eventAttr(d, lifelineotel.AttrDelivery).AsString() != rec.Delivery.String() {
		t.Errorf("delivery event %+v (found %v), want %v", d, ok, rec.Delivery)
	}
	if got := attr(run, lifelineotel.AttrStatus).AsString(); got != "normal" || !attr(run, lifelineotel.AttrFinished).AsBool() ||
		attr(run, lifelineotel.AttrStatusCode).AsInt64() != 201 {
		t.Errorf("attributes %v, want status normal, finished, code 201", run.Attributes())
	}
	if run.Status().Code == codes.Error {
		t.Errorf("span status %v, want not an error", run.Status())
	}
}

// TestAbort: a client that resets its connection: the abort event, when it
// happened, with its cause; not an error of the server.
func TestAbort(t *testing.T) {
	tr, sr, _, p := setup(t, nil)
	srv := p.NewServer(tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		io.WriteString(w, "late") // terminated here
	})))
	res := srv.Leave(httptest.NewRequest("GET", "/wait", nil), lifelinetest.BeforeHeader(), lifelinetest.Reset)
	rec := res.Record()
	run := runSpan(t, sr, "run GET")
	ab, ok := event(run, lifelineotel.EventAbort)
	if !ok || eventAttr(ab, lifelineotel.AttrCause).AsString() != "reset" || eventAttr(ab, lifelineotel.AttrAtEnd).AsBool() {
		t.Fatalf("abort event %+v (found %v), want one with cause reset, stamped when it happened", ab, ok)
	}
	// The client may leave before the span starts: the event keeps its moment.
	if ab.Time.Before(rec.Start) || ab.Time.After(run.EndTime()) {
		t.Errorf("abort at %v, outside the run %v-%v", ab.Time, rec.Start, run.EndTime())
	}
	if attr(run, lifelineotel.AttrStatus).AsString() != "aborted" || attr(run, lifelineotel.AttrCause).AsString() != rec.Cause.String() {
		t.Errorf("attributes %v, want status aborted, cause %v", run.Attributes(), rec.Cause)
	}
	if run.Status().Code == codes.Error {
		t.Errorf("span status %v: a client that left is not the server's error", run.Status())
	}
}

// TestTimeLimit: in a bubble, the time limit event is exactly at the limit,
// the span is an error, and a runaway is marked.
func TestTimeLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, sr, _, p := setup(t, nil, lifeline.WithTimeLimit(30*time.Second))
		h := tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn, _ := lifeline.FromContext(r.Context())
			rn.RegisterShutdown(func(context.Context, *lifeline.Run) {})
			time.Sleep(time.Minute) // ignores its context: a runaway
		}))
		resp := p.Do(h, httptest.NewRequest("GET", "/report", nil))
		if resp.Code != http.StatusServiceUnavailable {
			t.Errorf("code %d, want 503", resp.Code)
		}
		rec := resp.Record()
		run := runSpan(t, sr, "run GET")
		tl, ok := event(run, lifelineotel.EventTimeLimit)
		if !ok || tl.Time.Sub(run.StartTime()) != 30*time.Second {
			t.Errorf("time limit event %+v (found %v), want it 30s after the start", tl, ok)
		}
		if _, ok := event(run, lifelineotel.EventRunaway); !ok || !rec.Runaway {
			t.Errorf("no runaway event (record runaway %v)", rec.Runaway)
		}
		if ra, ok := event(run, lifelineotel.EventRunaway); !ok || ra.Time.Sub(run.StartTime()) != 32*time.Second {
			t.Errorf("runaway event %+v (found %v), want it at 32s (limit and grace period)", ra, ok)
		}
		for _, name := range []string{lifelineotel.EventShutdownFunctions, lifelineotel.EventShutdownEnd} {
			if e, ok := event(run, name); !ok || e.Time.Sub(run.StartTime()) != time.Minute || eventAttr(e, lifelineotel.AttrAtEnd).AsBool() {
				t.Errorf("%s event %+v (found %v), want it when the handler returned, at 1m", name, e, ok)
			}
		}
		if e, _ := event(run, lifelineotel.EventShutdownEnd); eventAttr(e, lifelineotel.AttrShutdownFuncs).AsInt64() != 1 {
			t.Errorf("shutdown functions end event %+v, want a count of 1", e)
		}
		if run.Status().Code != codes.Error || run.EndTime().Sub(run.StartTime()) != time.Minute {
			t.Errorf("span status %v, length %v; want an error, 1m", run.Status(), run.EndTime().Sub(run.StartTime()))
		}
	})
}

// TestAbortIgnored: a client that leaves a run that ignores user aborts
// (its context is not cancelled) is stamped when it left, not at the run's
// end, which comes later.
func TestAbortIgnored(t *testing.T) {
	tr, sr, _, p := setup(t, nil, lifeline.WithIgnoreUserAbort(true))
	left := make(chan struct{})
	srv := p.NewServer(tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		for !rn.Aborted() {
			select {
			case <-left:
			case <-time.After(time.Millisecond):
			}
		}
		time.Sleep(50 * time.Millisecond) // the work the run does without its client
	})))
	go func() { close(left) }()
	res := srv.Leave(httptest.NewRequest("GET", "/wait", nil), lifelinetest.BeforeHeader(), lifelinetest.Close)
	rec := res.Record()
	run := runSpan(t, sr, "run GET")
	ab, ok := event(run, lifelineotel.EventAbort)
	if !ok || eventAttr(ab, lifelineotel.AttrAtEnd).AsBool() || !eventAttr(ab, lifelineotel.AttrIgnoreUserAbort).AsBool() {
		t.Fatalf("abort event %+v (found %v), want one stamped when it happened, ignoring", ab, ok)
	}
	if end := rec.Start.Add(rec.Duration); end.Sub(ab.Time) < 50*time.Millisecond {
		t.Errorf("abort at %v, %v before the run's end: want at least the 50ms of work after it", ab.Time, end.Sub(ab.Time))
	}
}

// TestDeliveryAtItsInstant: the verdict on an early answer is an event at
// the moment it was decided, on the run's span, also when it came after
// the run's end.
func TestDeliveryAtItsInstant(t *testing.T) {
	tr, sr, _, p := setup(t, nil)
	srv := p.NewServer(tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		io.WriteString(w, "accepted")
		rn.Finish() // and return at once: the verdict may come after the end
	})))
	res := srv.Do(httptest.NewRequest("POST", "/order", nil))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	res.Record()
	// The span ends with the verdict, which the socket gives a moment after
	// the run's end: wait for it (bounded) before the pool shuts down.
	var run sdktrace.ReadOnlySpan
	for deadline := time.Now().Add(10 * time.Second); run == nil && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		for _, s := range sr.Ended() {
			if s.Name() == "run POST" {
				run = s
			}
		}
	}
	if run == nil {
		t.Fatal("the run's span did not end with the delivery verdict")
	}
	d, ok := event(run, lifelineotel.EventDelivery)
	if !ok || eventAttr(d, lifelineotel.AttrDelivery).AsString() != "delivered" || attr(run, lifelineotel.AttrDelivery).AsString() != "delivered" {
		t.Errorf("delivery event %+v (found %v), attributes %v: want delivered", d, ok, run.Attributes())
	}
	fin, _ := event(run, lifelineotel.EventFinish)
	if d.Time.Before(fin.Time) {
		t.Errorf("delivery at %v, before the finish at %v", d.Time, fin.Time)
	}
}

// TestNewRoot: WithNewRoot starts a trace of its own, linked to the
// request's span.
func TestNewRoot(t *testing.T) {
	tr, sr, tp, p := setup(t, []lifelineotel.Option{lifelineotel.WithNewRoot()})
	h := otelhttp.NewHandler(p.Middleware()(tr.Middleware(http.NotFoundHandler())), "request", otelhttp.WithTracerProvider(tp))
	p.Do(h, httptest.NewRequest("GET", "/x", nil)).Record()
	run, req := runSpan(t, sr, "run GET"), runSpan(t, sr, "request")
	if run.Parent().IsValid() || run.SpanContext().TraceID() == req.SpanContext().TraceID() {
		t.Errorf("run span in trace %v with parent %v, want a root of its own", run.SpanContext().TraceID(), run.Parent())
	}
	if l := run.Links(); len(l) != 1 || l[0].SpanContext.SpanID() != req.SpanContext().SpanID() {
		t.Errorf("links %+v, want one to the request span", l)
	}
}

// TestNilOption: New rejects a nil option.
func TestNilOption(t *testing.T) {
	_, err := lifelineotel.New(lifelineotel.WithNewRoot(), nil)
	if !errors.Is(err, lifelineotel.ErrInvalidOption) {
		t.Errorf("New(..., nil) = %v, want ErrInvalidOption", err)
	}
}
