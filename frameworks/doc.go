// Package frameworks holds the tested recipes for using Lifeline with the
// routers real programs use: net/http's ServeMux, chi v5, gin v1.12, echo v4
// and gorilla/mux (docs/FRAMEWORKS.md explains them), and the tests of the
// frameworks' recover middleware inside a [github.com/lifeline-go/lifeline.Pool].
//
// Every recipe wraps the whole router from outside with
// pool.Middleware(), and lets routes adjust their run with
// pool.Middleware(opts...) used as the router's own per-route middleware
// (gin needs a three-line adapter). From outside, the router, its context,
// its error handler and its recoverer all run on the run's goroutine; chi,
// gin and echo recycle their request contexts when their ServeHTTP returns,
// which, with the pool inside them, happens at Finish while the run still
// uses the context. The tests run every route of every recipe with real
// clients over HTTP/1 and HTTP/2 (package lifelinetest): path parameters and
// the router's context inside the run, the router's error handler and
// recoverer, Finish with work after it under the race detector, a client
// that leaves, and a route's own time limit.
//
// The recover tests check that a run terminated for its time limit or for a
// client that left still ends as Lifeline promises behind each framework's
// recoverer: a 503 when nothing was sent, a cut stream (never a
// complete-looking 500 or 200) when part of the body was, no stack trace
// logged for a termination, and no run left behind; and that a real handler
// panic still gets each framework's own answer.
//
// It is a module of its own so that users of the lifeline module do not
// inherit the frameworks as dependencies. It holds tests only; run them with
// `go test -race ./...` in this directory (make test does).
package frameworks
