// Package frameworks tests Lifeline with the recover middleware of the web
// frameworks real programs use: chi's middleware.Recoverer, gin's Recovery,
// echo's middleware.Recover and gorilla/handlers' RecoveryHandler, each
// placed inside a [lifeline.Pool] (issue 13 §3).
//
// Termination is a panic, and each of these recoverers catches panics. The
// tests check that a run that is terminated for its time limit or for a
// client that left still ends as Lifeline promises behind them: a 503 when
// nothing was sent, a cut stream (never a complete-looking 500 or 200) when
// part of the body was, no stack trace logged for a termination, and no run
// left behind; and that a real handler panic still gets each framework's own
// answer.
//
// It is a module of its own so that users of the lifeline module do not
// inherit the frameworks as dependencies. It holds tests only; run them with
// `go test -race ./...` in this directory (make test does).
package frameworks
