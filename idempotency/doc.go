// Package idempotency is double-submit protection for net/http handlers:
// a request that carries an Idempotency-Key header runs once, and its
// retries get the recorded response instead of running again.
//
// The PHP manual's notes describe the problem: a visitor clicks the submit
// button twice, or cancels the submit just after clicking, and the order is
// placed twice, or "their card was charged, but they weren't added to my
// local DB". The advice there (set a flag for the order, and check it before
// accepting a new submission) is what this package does, in the shape the
// IETF draft draft-ietf-httpapi-idempotency-key-header and Stripe's API
// give it: the client sends a new unique key with each new request and the
// same key with its retries.
//
//	store, err := memstore.New()
//	if err != nil { ... }
//	idem, err := idempotency.New(store, idempotency.WithPrincipal(userID))
//	if err != nil { ... }
//	mux.Handle("POST /orders", idem.Handler(placeOrder))
//
// See [New] and [Middleware.Handler] for runnable examples, the latter
// inside a Lifeline pool.
//
// # Responses
//
//   - first request with a key: the handler runs; its response is recorded;
//   - same key while that run goes on: 409 Conflict (or, with [WithWait],
//     the replay once the run ends);
//   - same key afterwards: the recorded response, with the header field
//     "Idempotent-Replayed: true";
//   - same key, different method, path, query or body: 422 Unprocessable
//     Content;
//   - malformed key, or a missing one where [WithRequireKey] is set: 400;
//   - store unreachable: 503, and the handler does not run.
//
// A run that fails with a 5xx status or a panic releases its key, so the
// client may retry; 4xx results are recorded like successes. Keys expire
// after 24 hours ([WithTTL]).
//
// # Lifeline
//
// Inside a Lifeline run the protected handler ignores user aborts (PHP's
// ignore_user_abort(true), see [WithIgnoreUserAbort]): a client that
// disconnects mid-order and retries gets the result of the run that
// finished, never a second charge. A handler that answers early with
// lifeline.Run.Finish has its response recorded at Finish, before the
// client sees it, so even an immediate retry is replayed.
//
// # Stores
//
// A [Store] reserves keys atomically. Package memstore keeps them in
// memory (one process), boltstore in a bbolt file (one process, survives
// restarts), and redisstore in Redis (any number of processes: two
// instances can never both run one key). Package idempotencytest is the
// conformance suite every store passes.
package idempotency
