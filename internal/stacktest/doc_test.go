// Package stacktest_test runs every wrapper Lifeline inserts (the run,
// compress, session, idempotency, a recover middleware) stacked together,
// over HTTP/1, HTTP/2, h2c and a recorder. It is a module of its own so that
// the library's module requires nothing for its tests beyond what its
// packages import: compress's encoders stay out of the root go.mod.
package stacktest_test
