package status

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/lifeline-go/lifeline"
)

// Handler is the status page of a [lifeline.Pool], PHP-FPM's pm.status_path
// for runs: which runs are running, which have called Finish and still
// work, which ran away past their time limit, and how the recent ones
// ended. It serves HTML by default, JSON with ?json (the pool summary) or
// ?json&full (with the live runs and the recent records), and its
// [Handler.Metrics] serves Prometheus metrics. Access is limited as
// [WithBearerToken] describes. A Handler is immutable and safe for
// concurrent use; it only reads the pool.
type Handler struct {
	pool    *lifeline.Pool
	opts    options
	guard   guard
	page    *page
	metrics *Metrics
}

// New returns the status handler of pool, with opts validated once here. It
// returns an error wrapping [ErrNilPool] or [ErrInvalidOption] when it
// cannot be built. Mount it on a path of its own, outside the pool's
// wrapping (the status page is not a run):
//
//	mux.Handle("/status", h)
//	mux.Handle("/metrics", h.Metrics())
func New(pool *lifeline.Pool, opts ...Option) (*Handler, error) {
	if pool == nil {
		return nil, ErrNilPool
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	pg, err := newPage()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(pool, o)
	if err != nil {
		return nil, err
	}
	return &Handler{pool: pool, opts: o, guard: newGuard(&o), page: pg, metrics: m}, nil
}

// Metrics returns the Prometheus handler of the same pool, built by [New]
// with the same options: the same access rule, its own registry.
func (h *Handler) Metrics() *Metrics { return h.metrics }

// Snapshot returns the pool's state now, with the live runs and the recent
// records when full is set: the document that ?json (or ?json&full) serves.
func (h *Handler) Snapshot(full bool) Snapshot {
	return snapshot(h.pool, &h.opts, full, time.Now())
}

// ServeHTTP serves the status page to a client that passes the access rule
// ([WithBearerToken]); others get 401 or 403. It answers GET and HEAD (405
// otherwise) in the format the query asks for:
//
//   - no query, or ?html (which wins over ?json): the HTML page, which
//     refreshes itself (see [WithRefresh]) and sorts on a column click;
//     ?sort=[-]table.key (for example ?sort=-active.elapsed_ms) sorts it
//     without JavaScript;
//   - ?json: the pool summary as a [Snapshot] without the run lists;
//   - ?json&full: the [Snapshot] with Active and Recent.
//
// Responses are never cached (Cache-Control: no-store).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if code := h.guard.check(r); code != 0 {
		h.guard.deny(w, r, code)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	q := parseQuery(r.URL.RawQuery)
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	if q.json {
		h.serveJSON(w, h.Snapshot(q.full))
		return
	}
	var buf bytes.Buffer
	if err := h.page.render(&buf, h.Snapshot(true), &h.opts, q.sorts); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Security-Policy", h.page.csp)
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	_, _ = buf.WriteTo(w)
}

func (h *Handler) serveJSON(w http.ResponseWriter, snap Snapshot) {
	b, err := json.Marshal(snap)
	if err != nil {
		http.Error(w, fmt.Sprintf("status: encode snapshot: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}

// query is what a status URL asks for.
type query struct {
	json, full bool
	sorts      map[string]sortSpec
}

// parseQuery reads a raw query string: "json", "full", "html" and "sort"
// parameters, with or without values (?json&full, as PHP-FPM's ?json&full).
// Malformed pairs are skipped.
func parseQuery(raw string) query {
	v, _ := url.ParseQuery(raw) // keeps the well-formed pairs
	_, j := v["json"]
	_, html := v["html"]
	_, full := v["full"]
	return query{json: j && !html, full: full, sorts: parseSorts(v["sort"], tables())}
}
