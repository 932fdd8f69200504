package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/errid"
)

// Handler is the status page of a [lifeline.Pool], PHP-FPM's pm.status_path
// for runs: which runs are running, which have called Finish and still
// work, which ran away past their time limit, and how the recent ones
// ended. It serves HTML by default, JSON with ?json (the pool summary) or
// ?json&full (with the live runs and the recent records), and its
// [Handler.Metrics] serves Prometheus metrics. Access is limited as
// [Access] describes. A Handler is immutable and safe for
// concurrent use; it only reads the pool.
type Handler struct {
	pool    *lifeline.Pool
	opts    options
	access  *Access
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
	acc := newAccess(&o)
	m, err := newMetrics(pool, o, acc)
	if err != nil {
		return nil, err
	}
	return &Handler{pool: pool, opts: o, access: acc, page: pg, metrics: m}, nil
}

// Access returns the handler's access rule, shared with its [Metrics], to
// put other handlers that show runs behind the same rule:
//
//	mux.Handle("/runs", h.Access().Handler(myRunList))
func (h *Handler) Access() *Access { return h.access }

// Metrics returns the Prometheus handler of the same pool, built by [New]
// with the same options: the same access rule, its own registry.
func (h *Handler) Metrics() *Metrics { return h.metrics }

// Snapshot returns the pool's state now, with the live runs and the recent
// records when full is set: the document that ?json (or ?json&full) serves,
// without the sections ([WithSection]), which are read for a request
// ([Handler.SnapshotContext] has them). It may be called from any goroutine.
func (h *Handler) Snapshot(full bool) Snapshot {
	return snapshot(h.pool, &h.opts, full, time.Now())
}

// SnapshotContext is [Handler.Snapshot] with the sections ([WithSection]),
// their functions called with ctx: what [Handler.ServeHTTP] serves. It
// returns within the section timeout ([WithSectionTimeout]) and never fails:
// a section that fails shows its error id. It may be called from any
// goroutine.
func (h *Handler) SnapshotContext(ctx context.Context, full bool) Snapshot {
	snap := snapshot(h.pool, &h.opts, full, time.Now())
	snap.Sections = sections(ctx, &h.opts)
	return snap
}

// ServeHTTP serves the status page to a client that passes the access rule
// ([Access]); others get 401 or 403. It answers GET and HEAD (405
// otherwise) in the format the query asks for:
//
//   - no query, or ?html (which wins over ?json): the HTML page, which
//     refreshes itself (see [WithRefresh]) and sorts on a column click;
//     ?sort=[-]table.key (for example ?sort=-active.elapsed_ms) sorts it
//     without JavaScript;
//   - ?json: the pool summary as a [Snapshot] without the run lists;
//   - ?json&full: the [Snapshot] with Active and Recent.
//
// Each format has the application's sections ([WithSection]), read for
// the request within [WithSectionTimeout].
//
// The query is parsed strictly: a malformed one (a ';' separator, a bad
// %-escape), a parameter other than json, full, html and sort, a value for
// full or html, or a sort key that names no column gets 400. Responses are
// never cached (Cache-Control: no-store). An internal error answers 500
// "internal error (id ...)", the id also logged with the detail
// ([WithLogger]).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.access.Check(r); err != nil {
		h.access.deny(w, r, err)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	if q.json {
		h.serveJSON(w, r, h.SnapshotContext(r.Context(), q.full))
		return
	}
	var buf bytes.Buffer
	if err := h.page.render(&buf, h.SnapshotContext(r.Context(), true), &h.opts, q.sorts); err != nil {
		internalError(h.opts.log(), w, r, fmt.Errorf("status: render page: %w", err))
		return
	}
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Security-Policy", h.page.csp)
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	_, _ = buf.WriteTo(w)
}

func (h *Handler) serveJSON(w http.ResponseWriter, r *http.Request, snap Snapshot) {
	b, err := json.Marshal(snap)
	if err != nil {
		internalError(h.opts.log(), w, r, fmt.Errorf("status: encode snapshot: %w", err))
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

// errBadQuery is wrapped by every error of parseQuery.
var errBadQuery = errors.New("status: bad query")

// parseQuery reads a raw query string: "json", "full", "html" and "sort"
// parameters (?json&full, as PHP-FPM's ?json&full; json may have a value,
// ?json=1). Anything else is an error wrapping errBadQuery, whose message
// names the problem and is fit for the client: a malformed query (Go's
// url.ParseQuery refuses ';' separators and bad escapes), an unknown
// parameter, a value for full or html, a sort that names no column.
func parseQuery(raw string) (query, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return query{}, fmt.Errorf("%w: %w", errBadQuery, err)
	}
	for k, vs := range v {
		switch k {
		case "json", "sort":
		case "full", "html":
			if len(vs) != 1 || vs[0] != "" {
				return query{}, fmt.Errorf("%w: %q takes no value", errBadQuery, k)
			}
		default:
			return query{}, fmt.Errorf("%w: unknown parameter %q; this page takes json, full, html and sort", errBadQuery, clip(k))
		}
	}
	sorts, err := parseSorts(v["sort"], tables())
	if err != nil {
		return query{}, fmt.Errorf("%w: %w", errBadQuery, err)
	}
	_, j := v["json"]
	_, html := v["html"]
	_, full := v["full"]
	return query{json: j && !html, full: full, sorts: sorts}, nil
}

// clip shortens a client-supplied value for an error message.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// internalError logs err with a fresh id and answers 500 with the id only:
// a client never sees an internal error's text, and can quote the id.
func internalError(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	errid.Respond(log, w, r, http.StatusInternalServerError, "internal error", err)
}
