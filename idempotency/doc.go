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
//   - same key while that run goes on: 409 Conflict with Retry-After (or,
//     with [WithWait], the replay once the run ends);
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
// # Leases and crashes
//
// A key's reservation is a lease of 10 seconds ([WithLease]), renewed by
// the middleware every third of that while the run is alive, however long
// it takes. When the process dies mid-run (a crash, an OOM kill, a deploy
// that does not drain) nothing renews it, and a retry runs again once it
// has run out: the key is blocked for seconds, not for its TTL. Whether the
// dead run's side effects happened is then for the store to make certain:
// with memstore, boltstore and redisstore the record is written after the
// handler's side effects, so a crash in between leaves effects without a
// record, and the retry runs them again. Package sqlstore closes that gap:
// the handler records its answer in the transaction of its side effects
// (sqlstore.Store.CompleteTx, through the request's [Lease]), so a retry
// finds either both (and is replayed) or neither (and runs): never two side
// effects.
//
// A request that waits for an in-flight key ([WithWait]) never waits past
// its own time limit inside Lifeline: the wait ends a second before, and
// the request answers 409 itself rather than being cut by the limit. The
// run it waits for is bounded by the same limit, so it ends (or, if its
// process died, its lease runs out) within about the time the waiter
// allowed.
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
// # Delivery
//
// Lifeline can tell whether an answer reached the client
// (lifeline.Run.AwaitDelivery), and the two features fit together. The
// first run of an order answers with Finish, waits for the delivery, and
// records the order "confirmed" or "unconfirmed" (the client left, the
// answer was lost). The client retries with the same key and is replayed
// the original answer, byte for byte; [WithOnReplay] then tells the
// application whether this replay was delivered, so it can mark the
// unconfirmed order confirmed now that the client has it. A recorded
// answer says what the run did, never whether a client got it: delivery is
// a fact about one exchange, learnt afresh for each replay.
//
// # Stores
//
// A [Store] reserves keys atomically. Package memstore keeps them in
// memory (one process), boltstore in a bbolt file (one process, survives
// restarts), redisstore in Redis (any number of processes: two instances
// can never both run one key), and sqlstore (a module of its own, so that
// this one needs no SQL driver) in SQLite or PostgreSQL, beside the
// application's own tables. Package idempotencytest is the conformance
// suite every store passes.
package idempotency
