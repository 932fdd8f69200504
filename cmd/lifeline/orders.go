package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The states of an order, as GET /demo/orders shows them.
const (
	// statePlaced: the order's transaction committed (with its email job);
	// whether its answer reached the client is not known yet.
	statePlaced = "placed"
	// stateConfirmed: the client's TCP stack acknowledged the whole answer.
	stateConfirmed = "confirmed"
	// stateUnconfirmed: the answer was not delivered (the client left,
	// reset, went silent) or the server stopped before it could tell; the
	// order is kept, to be presented again when the visitor comes back.
	stateUnconfirmed = "unconfirmed"
	// stateFailed: the order's work was cut short (time limit, shutdown)
	// and its transaction never ran: nothing of it was written but this
	// row, and its ref may be used again.
	stateFailed = "failed"
)

// orderItems is how many items an order registers, one by one, during its
// work: the "process of registering the products" that must not stop half way.
const orderItems = 4

// orphanAge is how old a placed order must be before any instance may
// resolve it: its run has ended by then (the delivery wait is bounded by
// deliveryWait, the shutdown functions by the pool's budget), so an order
// still placed belongs to a process that died.
const orphanAge = time.Minute

// errOrderExists is returned by placeOrder for a ref already in use.
var errOrderExists = errors.New("order exists")

// order is one order of /demo/order, a row of the orders table.
type order struct {
	Ref      string    `json:"ref"`
	State    string    `json:"state"`
	Items    []string  `json:"items"`
	Work     string    `json:"work"`
	Run      uint64    `json:"run"`              // the run that placed it
	Instance string    `json:"instance"`         // the server that placed it (-instance)
	Status   string    `json:"status,omitempty"` // the run's connection status at its end
	Reason   string    `json:"reason,omitempty"` // why it failed or is unconfirmed
	Job      int64     `json:"job,omitempty"`    // its email job
	Emailed  time.Time `json:"emailed,omitzero"` // the email job's commit: its email's time
	Emails   int       `json:"emails"`           // emails sent for it: 1 once its job ran, never more
	Created  time.Time `json:"created"`          // the request arrived
	Placed   time.Time `json:"placed,omitzero"`  // the transaction committed
	Updated  time.Time `json:"updated"`
}

// registerItems is the order's work: it registers its items one by one
// over work, with ctx (the run's: a client that leaves does not cancel it
// under IgnoreUserAbort; the time limit and the drain deadline do). It
// writes nothing: the order commits afterwards in one short transaction, so
// a slow order holds no lock that other orders wait for.
func registerItems(ctx context.Context, ord *order, work time.Duration) error {
	for i := range orderItems {
		if err := pause(ctx, work/orderItems); err != nil {
			ord.Items = nil
			return err
		}
		ord.Items = append(ord.Items, fmt.Sprintf("item %d of %d", i+1, orderItems))
	}
	return nil
}

// placeOrder commits ord, in state placed, together with its email job
// (unless withJob is false), in one transaction; inTx, called last with ord
// as committed, may add to it (the recorded answer). A ref held by
// an order that did not fail returns errOrderExists and that order.
//
// The job is inserted first, so the order's row is written once, with its
// job; when the ref is taken, the transaction rolls the job back with the
// rest.
func (a *app) placeOrder(ctx context.Context, ord *order, email time.Duration, withJob bool, inTx func(*sql.Tx) error) (existing order, err error) {
	err = a.db.inTx(ctx, func(tx *sql.Tx) error {
		items, err := json.Marshal(ord.Items)
		if err != nil {
			return fmt.Errorf("order %s: %w", ord.Ref, err)
		}
		var job int64
		if withJob {
			res, err := a.queue.client.InsertTx(ctx, tx, emailArgs{Ref: ord.Ref, Work: email}, nil)
			if err != nil {
				return fmt.Errorf("order %s: email job: %w", ord.Ref, err)
			}
			job = res.Job.ID
		}
		now := time.Now()
		res, err := tx.ExecContext(ctx, a.db.q(`
			INSERT INTO orders (ref, state, items, work, run, instance, job, created, placed, updated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
			ON CONFLICT (ref) DO UPDATE SET state = excluded.state, items = excluded.items, work = excluded.work,
				run = excluded.run, instance = excluded.instance, status = '', reason = '', job = excluded.job,
				created = excluded.created, placed = excluded.placed, updated = excluded.updated
			WHERE orders.state = 'failed'`),
			ord.Ref, statePlaced, string(items), ord.Work, int64(ord.Run), ord.Instance, job, nanos(ord.Created), nanos(now))
		if err != nil {
			return fmt.Errorf("order %s: %w", ord.Ref, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("order %s: %w", ord.Ref, err)
		} else if n == 0 {
			existing, err = scanOrder(tx.QueryRowContext(ctx, a.db.q(`SELECT `+orderColumns+` FROM orders WHERE ref = $1`), ord.Ref))
			if err != nil {
				return err
			}
			return errOrderExists
		}
		ord.Job, ord.State, ord.Placed, ord.Updated = job, statePlaced, now, now
		if inTx != nil {
			return inTx(tx)
		}
		return nil
	})
	return existing, err
}

// settleOrder moves a placed order to state (confirmed or unconfirmed), with
// the run's connection status and the reason. An order that a delivered
// replay confirmed first keeps its state and gets the status. It touches
// one row and waits for no other order.
func (a *app) settleOrder(ctx context.Context, ref, state, status, reason string) error {
	_, err := a.db.ExecContext(ctx, a.db.q(`UPDATE orders SET
			state = CASE WHEN state = $6 THEN $1 ELSE state END,
			reason = CASE WHEN state = $6 THEN $3 ELSE reason END,
			status = $2, updated = $4
		WHERE ref = $5 AND (state = $6 OR status = '')`), state, status, reason, time.Now().UnixNano(), ref, statePlaced)
	if err != nil {
		return fmt.Errorf("settle order %s: %w", ref, err)
	}
	return nil
}

// failOrder records an order whose work was cut short, unless its ref is
// held by an order that did not fail.
func (a *app) failOrder(ctx context.Context, ord *order, status, reason string) error {
	now := time.Now().UnixNano()
	_, err := a.db.ExecContext(ctx, a.db.q(`
		INSERT INTO orders (ref, state, items, work, run, instance, status, reason, created, updated)
		VALUES ($1, $2, '[]', $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (ref) DO UPDATE SET run = excluded.run, instance = excluded.instance, status = excluded.status,
			reason = excluded.reason, created = excluded.created, updated = excluded.updated
		WHERE orders.state = 'failed'`),
		ord.Ref, stateFailed, ord.Work, int64(ord.Run), ord.Instance, status, reason, nanos(ord.Created), now)
	if err != nil {
		return fmt.Errorf("order %s failed: %w", ord.Ref, err)
	}
	return nil
}

// confirmReplayed confirms an unconfirmed order whose answer reached the
// client later, as the replay of an idempotent retry.
func (a *app) confirmReplayed(ctx context.Context, ref string) error {
	_, err := a.db.ExecContext(ctx, a.db.q(`UPDATE orders SET state = $1, reason = $2, updated = $3
		WHERE ref = $4 AND state IN ($5, $6)`), stateConfirmed, "answer delivered by an idempotent replay",
		time.Now().UnixNano(), ref, stateUnconfirmed, statePlaced)
	if err != nil {
		return fmt.Errorf("confirm order %s: %w", ref, err)
	}
	return nil
}

// orphanScope says which placed orders resolveOrphans may take as left by
// a process that died.
type orphanScope int

const (
	// orphansStale: only orders placed more than orphanAge ago, by any
	// instance (the periodic upkeep; this process's own orders in flight
	// are younger).
	orphansStale orphanScope = iota
	// orphansMine: also every order of this -instance, at start, when the
	// instance's lock proves no other live process runs under its name.
	orphansMine
	// orphansAll: every placed order, at start on SQLite, where the data
	// directory's lock proves no other process has one in flight.
	orphansAll
)

// resolveOrphans settles the orders left placed by a process that died
// before their answer's delivery was known: unconfirmed, with the reason.
// scope says which placed orders may be taken as orphaned. Their email jobs
// are left to River, which runs them. It returns how many orders it
// resolved.
func (a *app) resolveOrphans(ctx context.Context, scope orphanScope) (int64, error) {
	const why = "the server stopped before the answer's delivery was known"
	now := time.Now()
	res, err := a.db.ExecContext(ctx, a.db.q(`UPDATE orders SET state = $1, reason = $2, updated = $3
		WHERE state = $4 AND ($5 OR ($6 AND instance = $7) OR placed < $8)`),
		stateUnconfirmed, why, now.UnixNano(), statePlaced,
		scope == orphansAll, scope == orphansMine, a.cfg.instance, now.Add(-orphanAge).UnixNano())
	if err != nil {
		return 0, fmt.Errorf("resolve orphaned orders: %w", err)
	}
	return res.RowsAffected()
}

// orderColumns are the columns scanOrder reads, in its order.
const orderColumns = `ref, state, items, work, run, instance, status, reason, job,
	(SELECT coalesce(min(sent), 0) FROM emails WHERE emails.ref = orders.ref), created, placed, updated,
	(SELECT count(*) FROM emails WHERE emails.ref = orders.ref)`

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

func scanOrder(row rowScanner) (order, error) {
	var (
		o                                 order
		items                             string
		run                               int64
		emailed, created, placed, updated int64
	)
	err := row.Scan(&o.Ref, &o.State, &items, &o.Work, &run, &o.Instance, &o.Status, &o.Reason, &o.Job,
		&emailed, &created, &placed, &updated, &o.Emails)
	if err != nil {
		return o, fmt.Errorf("order: %w", err)
	}
	if err := json.Unmarshal([]byte(items), &o.Items); err != nil {
		return o, fmt.Errorf("order %s: items: %w", o.Ref, err)
	}
	o.Run = uint64(run)
	o.Emailed, o.Created, o.Placed, o.Updated = fromNanos(emailed), fromNanos(created), fromNanos(placed), fromNanos(updated)
	return o, nil
}

// queryOrders returns up to limit orders, oldest first, after the order
// whose ref is after (the previous page's last), and whether there are more.
func (a *app) queryOrders(ctx context.Context, after string, limit int) ([]order, bool, error) {
	stmt := `SELECT ` + orderColumns + ` FROM orders`
	args := []any{limit + 1}
	if after != "" {
		stmt += ` WHERE (created, ref) > (SELECT created, ref FROM orders WHERE ref = $2)`
		args = append(args, after)
	}
	rows, err := a.db.QueryContext(ctx, a.db.q(stmt+` ORDER BY created, ref LIMIT $1`), args...)
	if err != nil {
		return nil, false, fmt.Errorf("list orders: %w", err)
	}
	defer rows.Close()
	out := []order{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, false, err
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list orders: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}
