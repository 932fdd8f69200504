package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/lifeline-go/lifeline/output"
)

// Headers-sent locations name the code that wrote, not this package.
func init() { output.SkipPackage("github.com/lifeline-go/lifeline/idempotency") }

// Middleware makes requests that carry an idempotency key run once; see
// [Middleware.Handler]. It is safe for concurrent use; one Middleware may
// wrap any number of handlers, which then share its key space.
type Middleware struct {
	store Store
	opts  options
}

// New returns a Middleware that keeps its keys in store, configured by
// opts. It returns an error matching [ErrInvalidOption] if store is nil or
// an option value cannot be used.
func New(store Store, opts ...Option) (*Middleware, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: nil Store", ErrInvalidOption)
	}
	o := defaultOptions()
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: opts[%d] is nil", ErrInvalidOption, i)
		}
		opt.apply(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &Middleware{store: store, opts: o}, nil
}

// Handler wraps next so that a request carrying an idempotency key runs at
// most once per key, and its retries get the recorded response.
//
// Requests whose method is not protected ([WithMethods]: POST and PATCH)
// pass through. A protected request without the key header passes through
// too, unless [WithRequireKey] is set (400 Bad Request). Otherwise:
//
//   - a key that [ParseKey] rejects, or more than one key field, gets 400;
//   - the body is read (up to [WithMaxRequestBody], else 413) and given back
//     to next; the key is bound to a fingerprint of the method, the path
//     with its query, and the body, under the principal of
//     [WithPrincipal];
//   - if the key is free, next runs, and the response is recorded;
//   - while that run is in progress, a request with the key gets 409
//     Conflict with "Retry-After: 1" (or waits, see [WithWait]);
//   - after it, a request with the key gets the recorded response again,
//     marked with the header "Idempotent-Replayed: true" ([WithReplayHeader]);
//   - a request with the key and another fingerprint gets 422 Unprocessable
//     Content;
//   - if the store cannot be reached, 503 Service Unavailable: next never
//     runs unprotected.
//
// Error responses are RFC 9457 problem details (application/problem+json)
// whose detail says what happened and what to do.
//
// # Leases
//
// While next runs, the middleware renews the key's lease ([WithLease]) from
// a goroutine of its own, which ends before the key is completed or
// released. next reaches the lease with [LeaseFromContext]: to record its
// answer in its own transaction (sqlstore), or to learn from [Lease.Lost]
// that the store lost it.
//
// # What is recorded
//
// The recorder sits between next and the ResponseWriter it is given, and
// changes nothing that passes. It keeps the first final status code (200
// if next wrote none), the header as it was at the first Write, WriteHeader
// or Flush (later changes are not recorded: net/http ignores them, and
// although Lifeline's output buffering may still send them, a replay will
// not; set header fields before writing), and the body. A second
// WriteHeader is dropped and logged with its caller's file:line. Left out of the record: the hop-by-hop fields (Connection and
// the fields it names, Keep-Alive, Proxy-Connection, Proxy-Authenticate,
// TE, Trailer, Transfer-Encoding, Upgrade), trailers, Date (fresh on each
// response), Content-Length (recomputed on replay), and Set-Cookie (a
// cookie belongs to one exchange; replaying it would hand a session or
// one-time token to whoever holds the key).
//
// A body longer than [WithMaxResponseBody] is not stored: the key still
// records that the request was processed, and a replay answers with the
// original status code and the header fields that do not describe the body,
// and, instead of the body, a problem detail (Content-Type
// application/problem+json) saying that the request was processed but its
// response was too large to be stored. A handler that hijacks the
// connection leaves nothing to replay: later requests with the key get 409
// Conflict with a problem detail saying so.
//
// # Failures release the key
//
// A run that ends with a 5xx status, or panics, releases its key, so that
// the client may retry; the panic is re-raised after the release, whatever
// its value ([http.ErrAbortHandler] and lifeline.ErrTerminated included).
// Every other status, 4xx included, is recorded and replayed.
//
// # Inside Lifeline
//
// Inside a Lifeline run (a handler wrapped by lifeline.Pool.Middleware), the
// middleware calls [lifeline.Run.IgnoreUserAbort](true) before next runs
// (see [WithIgnoreUserAbort]), so a client that disconnects mid-order and
// retries gets the result of the run that finished, never a second run. The
// setting stays on for the rest of the run, as ignore_user_abort(true) does
// in PHP. The record is stored when next returns, before the run's
// response is released to the client; if next calls [lifeline.Run.Finish],
// it is stored at Finish, from a [lifeline.Run.BeforeRelease] hook, so a
// retry that arrives as soon as the client has its answer is replayed
// rather than refused with 409 while the run goes on in the background.
// Output after Finish, and output that shutdown functions write past next,
// is not part of the record. Output handlers that next starts itself on the
// run's output stack are not applied again on replay; those started before
// the middleware (compression) are, since a replay is written through them.
// Content-Length is then left to the output stack, which sets it exactly.
// A run whose client was answered by Lifeline for it (a runaway past its
// time limit) and that later completes is recorded with its own status:
// the retry learns what the operation really did. Each run is annotated
// with what the middleware did ("idempotency" = "ran", "replayed", "in
// progress", "mismatch", "rejected" or "store failed"), for the status page.
//
// # Placement
//
// Put the middleware inside authentication (so [WithPrincipal] can see the
// user) and inside response compression, so that the record holds the
// identity-encoded response and each replay is encoded for the client that
// asked for it. Outside Lifeline, the handler's context is not cancelled
// when the client leaves (see [WithIgnoreUserAbort]).
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return &handler{m: m, next: next}
}

type handler struct {
	m    *Middleware
	next http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := h.m
	if !slices.Contains(m.opts.methods, r.Method) {
		h.next.ServeHTTP(w, r)
		return
	}
	key, present, err := m.keyFrom(r.Header)
	switch {
	case err != nil:
		note(r, "rejected")
		writeProblem(w, http.StatusBadRequest, err.Error())
		return
	case !present && m.opts.requireKey:
		note(r, "rejected")
		writeProblem(w, http.StatusBadRequest, fmt.Sprintf("idempotency: this endpoint requires an %s header field; send a new unique key (such as a random UUID) with each new request, and the same key with its retries", m.opts.header))
		return
	case !present:
		h.next.ServeHTTP(w, r)
		return
	}
	body, err := readBody(r, m.opts.maxRequestBody)
	if err != nil {
		note(r, "rejected")
	}
	switch {
	case errors.Is(err, errBodyTooLarge):
		writeProblem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("idempotency: the request body is larger than %d bytes, the limit for requests with an %s", m.opts.maxRequestBody, m.opts.header))
		return
	case err != nil:
		writeProblem(w, http.StatusBadRequest, "idempotency: reading the request body: "+err.Error())
		return
	}
	skey := m.storeKey(r, key)
	token := rand.Text()
	res, err := m.reserve(r, skey, fingerprint(r, body), token)
	if err != nil {
		m.storeFailed(w, r, "reserve", err)
		return
	}
	switch res.State {
	case StateReserved:
		note(r, "ran")
		m.run(w, r, h.next, body, skey, token)
	case StateInProgress:
		note(r, "in progress")
		w.Header().Set("Retry-After", "1")
		writeProblem(w, http.StatusConflict, fmt.Sprintf("idempotency: a request with this %s is still being processed; retry after it has completed to get its response", m.opts.header))
	case StateCompleted:
		note(r, "replayed")
		m.replay(w, r, res.Record)
		if m.opts.onReplay != nil {
			m.replayed(r, key, res.Record)
		}
	case StateMismatch:
		note(r, "mismatch")
		writeProblem(w, http.StatusUnprocessableEntity, fmt.Sprintf("idempotency: this %s was already used for a different request (method, path, query or body differ); send a new key with a new request", m.opts.header))
	default:
		m.storeFailed(w, r, "reserve", fmt.Errorf("idempotency: store returned %v", res.State))
	}
}

// keyFrom returns the key of a request, whether the header was present, and
// a client-facing error if it is malformed.
func (m *Middleware) keyFrom(h http.Header) (string, bool, error) {
	vs := h.Values(m.opts.header)
	switch len(vs) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", true, fmt.Errorf("idempotency: %d %s fields; send exactly one", len(vs), m.opts.header)
	}
	key, err := ParseKey(vs[0])
	if err != nil {
		return "", true, fmt.Errorf("%s: %w", m.opts.header, err)
	}
	return key, true, nil
}

// storeKey is the key under which the store keeps key: the principal,
// length-prefixed so that no principal and key pair can collide with
// another, then the key.
func (m *Middleware) storeKey(r *http.Request, key string) string {
	if m.opts.principal == nil {
		return key
	}
	p := m.opts.principal(r)
	return strconv.Itoa(len(p)) + ":" + p + ":" + key
}

// fingerprint hashes what makes a request the same request: method, path
// and query, and body. It does not allocate beyond its result for request
// targets up to about 200 bytes.
func fingerprint(r *http.Request, body []byte) string {
	bodySum := sha256.Sum256(body)
	b := make([]byte, 0, 256)
	b = append(b, r.Method...)
	b = append(b, 0)
	b = append(b, r.URL.EscapedPath()...)
	b = append(b, 0)
	b = append(b, r.URL.RawQuery...)
	b = append(b, 0)
	b = append(b, bodySum[:]...)
	sum := sha256.Sum256(b)
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

// waitMargin is the part of a waiting run's time limit that the wait for
// an in-flight key leaves over, so that the run answers 409 itself rather
// than being stopped by its limit.
const waitMargin = time.Second

// reserve calls Store.Reserve, and while the key is in progress and
// WithWait allows, calls it again with a growing pause. Inside a Lifeline
// run the wait ends waitMargin before the run's own time limit, and a run
// that waited and then got the key starts its time limit again.
func (m *Middleware) reserve(r *http.Request, key, fp, token string) (Reservation, error) {
	ctx := r.Context()
	res, err := m.reserveOnce(ctx, key, fp, token)
	if err != nil || res.State != StateInProgress {
		return res, err
	}
	wait := m.opts.wait
	rn := runOf(r)
	var limit time.Duration
	if rn != nil {
		var left time.Duration
		if limit, left = rn.TimeLimit(); limit > 0 {
			wait = min(wait, left-waitMargin)
		}
	}
	if wait <= 0 {
		return res, nil
	}
	deadline := time.Now().Add(wait)
	pause := 10 * time.Millisecond
	t := time.NewTimer(pause)
	defer t.Stop()
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return res, nil
		}
		t.Reset(min(pause, left))
		select {
		case <-ctx.Done():
			return res, nil // the client left: it gets the 409 it will not read
		case <-t.C:
		}
		res, err = m.reserveOnce(ctx, key, fp, token)
		if err != nil || res.State != StateInProgress {
			if err == nil && res.State == StateReserved && limit > 0 {
				// PHP's limit counts CPU time, which waiting does not use.
				rn.SetTimeLimit(limit)
			}
			return res, err
		}
		pause = min(2*pause, 250*time.Millisecond)
	}
}

func (m *Middleware) reserveOnce(ctx context.Context, key, fp, token string) (Reservation, error) {
	ctx, cancel := m.storeContext(ctx)
	defer cancel()
	res, err := m.store.Reserve(ctx, key, fp, token, m.opts.lease)
	if err == nil && res.State == StateCompleted {
		switch rec := res.Record; {
		case rec == nil:
			err = fmt.Errorf("idempotency: store returned a completed key without its record")
		case !rec.Hijacked && (rec.StatusCode < 200 || rec.StatusCode > 999):
			err = fmt.Errorf("idempotency: store returned a record with status %d: %w", rec.StatusCode, ErrCorruptRecord)
		}
	}
	return res, err
}

// storeContext bounds a store call by WithStoreTimeout, if set.
func (m *Middleware) storeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if m.opts.storeTimeout == 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, m.opts.storeTimeout)
}

// storeFailed answers a request whose key the store could not check: 503
// when the store is unavailable (or too slow), 500 otherwise. The details
// go to the log, not to the client.
func (m *Middleware) storeFailed(w http.ResponseWriter, r *http.Request, op string, err error) {
	note(r, "store failed")
	level := slog.LevelWarn
	if r.Context().Err() != nil {
		level = slog.LevelDebug // the client left while the store answered
	}
	m.opts.logger.LogAttrs(r.Context(), level, "idempotency: store failed; request refused",
		slog.String("op", op), slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
	if errors.Is(err, ErrStoreUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		w.Header().Set("Retry-After", "1")
		writeProblem(w, http.StatusServiceUnavailable, "idempotency: the key store is unavailable, so the request was not processed; retry later with the same key")
		return
	}
	writeProblem(w, http.StatusInternalServerError, "idempotency: the key store failed, so the request was not processed; retry later with the same key")
}
