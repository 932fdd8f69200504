// Package sqlstore is an [idempotency.Store] on database/sql, for SQLite
// and PostgreSQL, that can record a request's answer in the same
// transaction as its side effects.
//
// It follows Stripe's idempotency keys as Brandur Leach describes them: the
// key, its recovery point and the data the request changes live in one
// database, so one transaction commits the order and the answer that says
// so. Whatever instant the process dies at, a retry with the same key then
// finds either the committed answer (it is replayed) or nothing committed
// (it runs again, once the dead run's lease has run out): never two side
// effects.
//
//	store, err := sqlstore.New(ctx, db, sqlstore.SQLite)
//	if err != nil { ... }
//	idem, err := idempotency.New(store)
//	if err != nil { ... }
//	mux.Handle("POST /orders", idem.Handler(http.HandlerFunc(placeOrder)))
//
//	func placeOrder(w http.ResponseWriter, r *http.Request) {
//		ctx := r.Context()
//		tx, err := db.BeginTx(ctx, nil)
//		if err != nil { ... 503 ... }
//		defer tx.Rollback()
//		id, err := insertOrder(ctx, tx, r)
//		if err != nil { ... 500 ... }
//		w.Header().Set("Content-Type", "application/json")
//		w.WriteHeader(http.StatusCreated)
//		fmt.Fprintf(w, `{"id":%d}`, id)
//		if err := store.CompleteTx(ctx, tx, nil); err != nil { ... 500 ... }
//		if err := tx.Commit(); err != nil { ... 500 ... }
//	}
//
// [Store.CompleteTx] records the response written so far (or the record
// given) under the request's key in tx. When the transaction commits, the
// key is completed; when it rolls back, the middleware releases the key as
// the handler returns, so the client's retry runs again. See
// [Store.CompleteTx] for the order of writing, recording and committing.
// A handler that does not call CompleteTx is recorded by the middleware
// after it returns, as with any store.
//
// # Leases
//
// A reservation is a lease ([idempotency.WithLease], 10 seconds by
// default), renewed by the middleware while its run is alive. After a
// crash the key is free again one lease later. A run whose lease ran out
// (the database was unreachable for longer than the lease) can still not
// commit twice: CompleteTx checks the reservation's token in the
// transaction, and a run that took the key over has another token, so
// exactly one of the two transactions records an answer; the other's
// CompleteTx fails with [idempotency.ErrReservationLost] and it must roll
// back.
//
// # Databases
//
// Open the database with its usual driver; this package imports none.
// PostgreSQL through github.com/jackc/pgx/v5/stdlib ("pgx"), at the default
// READ COMMITTED isolation (with REPEATABLE READ or SERIALIZABLE, a
// transaction that outlives a third of the lease conflicts with the lease's
// renewal and fails to commit). SQLite through modernc.org/sqlite
// ("sqlite"), in WAL mode, with a busy timeout, and with transactions that
// take the write lock when they begin, so that a transaction that read
// first never fails to upgrade:
//
//	file:app.db?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_txlock=immediate
//
// SQLite has one writer at a time: a handler's transaction holds up the
// reservations of other requests until it commits, so keep transactions
// short. On PostgreSQL only a request with the same key waits, from
// CompleteTx to the commit, for the row its answer is written to.
//
// [New] creates the table (lifeline_idempotency, [WithTable]) if it does
// not exist. Times are taken from the database's clock, so processes on
// several machines agree on when a lease runs out. Expired rows are
// deleted by Reserve, at most once per cleanup interval
// ([WithCleanupInterval]); no goroutine is started.
package sqlstore
