package lifelineotel

import (
	"go.opentelemetry.io/otel/trace"
)

// Option configures a [Tracer] ([New]).
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// options holds every setting; defaults are in defaultOptions.
type options struct {
	provider trace.TracerProvider
	newRoot  bool
	spanName func(route, method string) string
}

func defaultOptions() options {
	return options{spanName: defaultSpanName}
}

// defaultSpanName names a run's span "run <route>", or "run <method>" for a
// run without a route name.
func defaultSpanName(route, method string) string {
	if route != "" {
		return "run " + route
	}
	return "run " + method
}

// WithTracerProvider sets the provider of the tracer that makes the runs'
// spans. The default is the global provider, [otel.GetTracerProvider], as
// looked up by [New].
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(o *options) { o.provider = tp })
}

// WithNewRoot makes each run's span the root of a trace of its own, linked
// to the request's span (otelhttp's, when it wraps the pool), instead of a
// child of it. A run that goes on after Finish outlives the request's span;
// some tracing back ends show such children badly. The default is a child.
func WithNewRoot() Option {
	return optionFunc(func(o *options) { o.newRoot = true })
}

// WithSpanName sets how a run's span is named from its route name
// ([lifeline.WithRoute], "" when unset) and the request's method. The
// default is "run <route>", or "run <method>" without a route name.
func WithSpanName(f func(route, method string) string) Option {
	return optionFunc(func(o *options) { o.spanName = f })
}
