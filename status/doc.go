// Package status is the live status page of a [lifeline.Pool], as PHP-FPM's
// pm.status_path is for a pool of PHP workers: what is running, for how
// long, which runs have called Finish and still work, which are stuck past
// their time limit, how many clients left, and how the recent runs ended.
//
// The package is called status, next to the root's
// [lifeline.Status] bit field; status.Handler reads well and the two never
// meet in one expression.
//
// # Use
//
//	st, err := status.New(pool)            // loopback clients only
//	if err != nil { ... }
//	mux.Handle("/status", st)              // HTML, ?json, ?json&full
//	mux.Handle("/metrics", st.Metrics())   // Prometheus
//	go status.LogRecords(ctx, pool, logger, slog.LevelInfo, time.Second)
//
// Mount the handlers outside the pool's wrapping: the status page is not a
// run. The package examples show each function at work.
//
// # Formats
//
// The HTML page (the default, or ?html) shows the pool summary, the live
// runs and the ring of recent records. It refreshes itself every second
// ([WithRefresh]): a small inline script fetches ?json&full and re-renders
// the tables, and a click on a column sorts them. Without JavaScript, a
// <meta http-equiv="refresh"> reloads the page and the column links
// (?sort=[-]table.key) sort on the server. Runaway runs are red, timed-out
// runs pink, aborted runs yellow, finished runs still working blue. The
// template, style and script are embedded (no CDN) and admitted by a
// Content-Security-Policy that allows nothing else.
//
// ?json serves the summary (with the sections) and ?json&full adds the
// live runs and the recent records (PHP-FPM's ?json&full). The document
// is a [Snapshot]: its keys are snake_case, durations are milliseconds as
// numbers, and the schema is pinned by testdata/schema.golden and
// documented in docs/STATUS.md.
//
// PHP-FPM's fields and their counterparts:
//
//	PHP-FPM               Lifeline JSON
//	start time            start_time
//	start since           uptime_ms
//	accepted conn         accepted_runs
//	listen queue          queue_length (lifeline.WithMaxActive)
//	max listen queue      -  (queue_waits, queue_timeouts count the waits)
//	active processes      active_runs (finished_runs of them after Finish)
//	max active processes  max_active_runs
//	slow requests         time_limit_hits, runaway_runs, runaway_total
//	request duration      active[].elapsed_ms, recent[].duration_ms
//	request URI           active[].uri (no query string by default)
//
// # Sections of the application
//
// [WithSection] adds a named section of the application's own to the
// summary, such as the counts of a job queue by state: a function called
// for each request the handler serves (one call at a time, shared by the
// requests that come while it runs), with the request's values in a
// context bounded by [WithSectionTimeout], whose fields the page shows (as
// text, refreshed with the rest) and the JSON carries under "sections". A function that
// fails, panics or does not answer in time shows "section unavailable (id
// ...)" in its section, the detail logged with the id, and the rest of the
// page is served. The sections are behind the same access rule as the page.
//
// # Metrics
//
// [Metrics] serves counters and gauges from the pool's Stats and histograms
// of run duration and time to Finish by route, from a registry of its own.
// The histograms are fed from the ring of recent records at each scrape:
// records evicted before a scrape are missed, and counted.
//
// # Access
//
// The handlers are never exposed by accident. One rule, [Access], guards
// the page, the JSON and the metrics, and can guard your own listings of
// runs ([Handler.Access], [Access.Handler]):
//
//   - the Host header must name an allowed host ([WithAllowedHosts]; by
//     default localhost, 127.0.0.1 and [::1], any port), against DNS
//     rebinding;
//   - with a bearer token ([WithBearerToken], or [WithBearerTokenFile] to
//     keep it out of argv) only requests that carry it are served, 401 for
//     the others;
//   - without one, only clients connected from a loopback address (read
//     from the connection, never from a header) whose request carries no
//     forwarding header (Forwarded, X-Forwarded-*, X-Real-IP, X-Client-IP,
//     True-Client-IP, CF-Connecting-IP and the like, in any case and with
//     '_' for '-'): a proxy on the same host would otherwise expose the
//     page. Headers only take access away.
//
// URIs lose their query strings unless [WithQueryStrings] is given; request
// headers and cookies are never shown. The query of a status URL is parsed
// strictly (400 for ';', unknown parameters and unknown sort keys), and an
// internal error answers "internal error (id ...)" with the detail in the
// log ([WithLogger]). docs/SECURITY.md has the threat model.
//
// # Exact events
//
// The page reads [lifeline.Pool.Active], [lifeline.Pool.Recent] and
// [lifeline.Pool.Stats]. The metrics' histograms and [LogRecords] must see
// every run that ended: give them a [Feed], the pool's ended-run hook
// ([lifeline.WithRunEnded]), and none is missed; without one they poll the
// ring of recent runs and count what left it unseen. The root package keeps
// no record of when a client left, so there is no abort-detection latency
// histogram.
package status
