package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/idempotency"
)

// orderParams are the parameters of POST /demo/order, from the query or
// from a form body.
type orderParams struct {
	Work  time.Duration // how long registering the order's items takes (default 2s)
	Email time.Duration // how long its email job takes to send (default 100ms)
	Ref   string        // the order's label; default: a new random one
	NoJob bool          // place the order without its email job (job=0), to measure what the job costs
}

func parseOrder(q url.Values) (orderParams, error) {
	p := newParams(q)
	op := orderParams{
		Work:  p.duration("work", 2*time.Second),
		Email: p.duration("email", 100*time.Millisecond),
		Ref:   p.ref("ref"),
	}
	if _, given := p.value("job"); given {
		op.NoJob = !p.boolean("job")
	}
	return op, p.done()
}

// order is POST /demo/order?work=D&email=D&ref=R, the order script of the PHP
// manual's user notes (seeds/php-manual-connection-handling-notes.txt):
//
//	"If your visitor click the stop button just after have submitted it, your
//	script may stop in the middle of the process of registering the products
//	and do not finish the list, generating inconsistency in your database.
//	With the ignore_user_abort() function you can make your script finish
//	everything fine and after you can check with register_shutdown_function()
//	and connection_aborted() if the visitor cancelled the submission or lost
//	his/her connection. If he/she did, you can set the order as not confirmed
//	and when the visitor came back, you can present the old order again."
//
// and, in the next note: "Without ignore_user_abort(), I have had times when
// a user's connection dropped during the processing phase... and their card
// was charged, but they weren't added to my local DB."
//
// The run ignores user aborts and registers the order's items over D with
// the run context: a client that leaves does not cancel it, the time limit
// does (and then nothing is written but a failed order). The order, its
// email job (River, InsertTx) and, behind package idempotency, its recorded
// answer then commit in one short transaction, which waits for no other
// order's work. The 201 goes out with Finish, and a shutdown function waits,
// bounded, for its delivery: the order is confirmed only when the client's
// TCP stack acknowledged the whole answer, unconfirmed (with the reason)
// when it did not (the client left, reset, went silent, or did not
// acknowledge in time). Where delivery cannot be known (HTTP/2, a
// connection that closed after the answer), it falls back to PHP's
// connection_aborted(). The email job runs at once in this process, or, if
// the process dies, at the next start or on another instance. GET
// /demo/orders lists the orders. A ref already taken gets 409.
func (a *app) order(w http.ResponseWriter, r *http.Request, rn *lifeline.Run) {
	form, err := orderForm(r)
	if err != nil {
		badRequest(w, err)
		return
	}
	p, err := parseOrder(form)
	if err != nil {
		badRequest(w, err)
		return
	}
	rn.IgnoreUserAbort(true) // ignore_user_abort(true): the route sets it already; said here as PHP scripts do
	if p.Ref == "" {
		p.Ref = newRef()
	}
	ord := &order{Ref: p.Ref, Work: p.Work.String(), Run: rn.ID(), Instance: a.cfg.instance, Created: time.Now()}
	var (
		placed, taken bool
		why           string
	)
	rn.RegisterShutdown(func(ctx context.Context, rn *lifeline.Run) {
		if taken {
			return // another run's order: not ours to settle
		}
		ctx = context.WithoutCancel(ctx) // the record must be written even past the shutdown budget
		if !placed {
			if err := a.failOrder(ctx, ord, rn.Status().String(), why); err != nil {
				a.log.Error("order: record failure", "ref", ord.Ref, "err", err)
			}
			rn.Annotate("order", ord.Ref+" "+stateFailed)
			return
		}
		state, because := a.delivered(ctx, rn)
		if state == stateConfirmed {
			a.crashAt("after-answer")
		}
		if err := a.settleOrder(ctx, ord.Ref, state, rn.Status().String(), because); err != nil {
			a.log.Error("order: settle", "ref", ord.Ref, "state", state, "err", err)
		}
		rn.Annotate("order", ord.Ref+" "+state)
	})
	err = registerItems(rn.Context(), ord, p.Work)
	var (
		existing order
		answered bool // the 201 is written (buffered: nothing reached the client)
	)
	if err == nil {
		existing, err = a.placeOrder(rn.Context(), ord, p.Email, !p.NoJob, func(tx *sql.Tx) error {
			// The answer is written, then recorded for the request's
			// Idempotency-Key in the order's transaction: a retry finds
			// both or neither.
			answer, err := jsonRecord(http.StatusCreated, map[string]any{
				"message": fmt.Sprintf("order %s placed", ord.Ref),
				"order":   ord,
			})
			if err != nil {
				return err
			}
			writeRecord(w, answer)
			answered = true
			return a.idemStore.CompleteTx(r.Context(), tx, nil)
		})
	}
	if err != nil && answered {
		// The transaction did not commit after the 201 was written: it is
		// still in the run's buffer, so it is replaced by the error.
		_ = rn.Output().DiscardAll()
		_ = rn.Output().WriteHeader(http.StatusInternalServerError)
	}
	switch {
	case errors.Is(err, errOrderExists):
		taken = true
		writeJSON(w, http.StatusConflict, map[string]any{
			"error": fmt.Sprintf("order %s already exists", ord.Ref),
			"order": existing,
		})
		return
	case err != nil:
		why = reason(err)
		rn.Check() // the time limit or the drain deadline: the run stops here
		serverError(a.log, w, r, err)
		return
	}
	placed = true
	a.crashAt("after-commit")
	if ord.Job != 0 {
		rn.Annotate("job", fmt.Sprintf("email %d", ord.Job))
	}
	_ = rn.Finish() // the answer goes out now; the shutdown function waits for its delivery
}

// replayed is told of every replay of an order's answer: one that reached
// its client confirms the order, which its first answer may have left
// unconfirmed.
func (a *app) replayed(ctx context.Context, rp *idempotency.Replay) {
	var ans struct{ Order struct{ Ref string } }
	if rp.Delivery != lifeline.Delivered || json.Unmarshal(rp.Record.Body, &ans) != nil || ans.Order.Ref == "" {
		return
	}
	if err := a.confirmReplayed(ctx, ans.Order.Ref); err != nil {
		a.log.Error("order: confirm after a delivered replay", "ref", ans.Order.Ref, "err", err)
	}
}

// deliveryWait bounds the wait for an order's answer to be acknowledged: a
// silent client is found by the dead-peer timeout (4 s by default).
const deliveryWait = 10 * time.Second

// delivered decides an order's state from its answer's delivery: confirmed
// when the client had it, unconfirmed (and why) when not; where the socket
// cannot tell, from connection_aborted() as PHP does.
func (a *app) delivered(ctx context.Context, rn *lifeline.Run) (state, why string) {
	ctx, cancel := context.WithTimeout(ctx, deliveryWait)
	defer cancel()
	d, err := rn.AwaitDelivery(ctx)
	rn.Annotate("delivery", d.String())
	switch {
	case d == lifeline.Delivered:
		return stateConfirmed, ""
	case d == lifeline.Undelivered:
		return stateUnconfirmed, "answer not delivered"
	case d == lifeline.DeliveryPending:
		return stateUnconfirmed, fmt.Sprintf("answer not acknowledged within %v: %v", deliveryWait, err)
	case rn.Aborted(): // DeliveryUnknown: connection_aborted()
		return stateUnconfirmed, "client aborted"
	}
	return stateConfirmed, ""
}

// formType is the only body POST /demo/order reads: an HTML form's.
const formType = "application/x-www-form-urlencoded"

// orderForm returns the parameters of an order request, from the query and
// a form body (r.Form), parsed strictly, as the docs promise (issue 19): a
// malformed query or body (';' separators, bad escapes) is an error, and so
// is a body net/http's ParseForm would ignore silently: a multipart body, a
// body of another type, or a body without a Content-Type. The errors match
// errBadParam and are answered 400.
func orderForm(r *http.Request) (url.Values, error) {
	ct := r.Header.Get("Content-Type")
	switch {
	case ct == "" && r.ContentLength != 0:
		return nil, &paramError{Name: "body", Reason: "a body needs Content-Type: " + formType}
	case ct != "":
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err != nil:
			return nil, &paramError{Name: "body", Reason: "malformed Content-Type"}
		case mt == "multipart/form-data":
			return nil, &paramError{Name: "body", Reason: "multipart bodies are not accepted: send " + formType + " or the query"}
		case mt != formType:
			return nil, &paramError{Name: "body", Reason: fmt.Sprintf("Content-Type %q is not accepted: send %s or the query", clip(mt), formType)}
		}
	}
	if err := r.ParseForm(); err != nil { // also parses the query, strictly
		return nil, &paramError{Name: "query or body", Reason: err.Error()}
	}
	return r.Form, nil
}

// newRef returns a fresh order reference such as R-3f9a1c2b04d6.
func newRef() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "R-" + hex.EncodeToString(b[:])
}
