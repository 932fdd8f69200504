package status

import (
	"net/http"
	"strings"
	"sync"

	"github.com/lifeline-go/lifeline"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics serves a pool's metrics in the Prometheus exposition formats,
// from a registry of its own (never the global one). Counters and gauges
// come from [lifeline.Pool.Stats] and [lifeline.Pool.Active] at each scrape.
//
// The histograms (run duration and time to Finish, by route) observe every
// run as it ends when the pool's ended-run hook feeds them ([WithFeed]).
// Without a Feed they are fed at each scrape with the records that ended
// since the previous one, read from [lifeline.Pool.Recent]: records evicted
// from that ring between two scrapes are then missed, and counted in
// <namespace>_status_records_missed_total (a lower bound, exact unless runs
// are ending during the scrape; it never counts a run that the histograms
// observe); keep the ring ([lifeline.WithRecentRuns], 256 by default)
// larger than the runs that end in one scrape interval.
//
// Access follows [WithBearerToken]. A Metrics is safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	coll    *collector
	handler http.Handler
}

// NewMetrics returns the Prometheus handler of pool, with opts validated
// once here ([WithNamespace], [WithBuckets] and the access options apply).
// It returns an error wrapping [ErrNilPool] or [ErrInvalidOption] when it
// cannot be built. [Handler.Metrics] returns the same handler for a status
// page.
func NewMetrics(pool *lifeline.Pool, opts ...Option) (*Metrics, error) {
	if pool == nil {
		return nil, ErrNilPool
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	return newMetrics(pool, o, newAccess(&o))
}

func newMetrics(pool *lifeline.Pool, o options, acc *Access) (*Metrics, error) {
	coll := newCollector(pool, &o)
	if o.feed != nil {
		coll.fed = true
		o.feed.subscribe(coll.observe) // for as long as the Feed lives
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(coll); err != nil {
		return nil, err
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return &Metrics{reg: reg, coll: coll, handler: acc.Handler(h)}, nil
}

// ServeHTTP serves the metrics to a client that passes the access rule
// ([Access]); others get 401 or 403. The query string is not read.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.handler.ServeHTTP(w, r)
}

// Registry returns the handler's own registry, to add collectors to what it
// serves (for example collectors.NewGoCollector()).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Collector returns the pool's collector, to register in another registry
// instead of serving this handler. Each collect feeds the histograms with
// the records that ended since the previous collect, whichever registry
// asked.
func (m *Metrics) Collector() prometheus.Collector { return m.coll }

// collector turns a pool's stats and records into metrics.
type collector struct {
	pool *lifeline.Pool

	startTime, accepted, active, afterFinish, runawayNow, runawayTotal *prometheus.Desc
	sessionLocked, maxActive, queueLength, queueWaits, queueTimeouts   *prometheus.Desc
	ended, aborts, timeLimitHits, panics, shutdownPanics               *prometheus.Desc

	fed      bool       // a Feed observes the records; follow is unused
	mu       sync.Mutex // guards follow and the feeding of the histograms
	follow   follower
	duration *prometheus.HistogramVec
	finish   *prometheus.HistogramVec
	missed   prometheus.Counter
}

func newCollector(pool *lifeline.Pool, o *options) *collector {
	ns := o.namespace
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, labels, nil)
	}
	return &collector{
		pool:           pool,
		startTime:      d("pool_start_time_seconds", "When the pool was created, in seconds since the Unix epoch."),
		accepted:       d("runs_accepted_total", "Runs started."),
		active:         d("runs_active", "Runs alive, including those working after Finish."),
		afterFinish:    d("runs_after_finish", "Runs alive that called Finish: response sent, handler still working."),
		runawayNow:     d("runs_runaway", "Runs alive that ran past their time limit and grace period."),
		runawayTotal:   d("runs_runaway_total", "Runs that ran past their time limit and grace period."),
		sessionLocked:  d("runs_session_locked", "Runs alive holding a session lock."),
		maxActive:      d("runs_max_active", "The most runs alive at once since the pool was created."),
		queueLength:    d("queue_length", "Requests waiting for a slot (WithMaxActive)."),
		queueWaits:     d("queue_waits_total", "Requests that had to wait for a slot."),
		queueTimeouts:  d("queue_timeouts_total", "Requests turned away after waiting for a slot."),
		ended:          d("runs_ended_total", "Ended runs by final connection status (PHP's connection_status(): 0 normal, 1 aborted, 2 timeout, 3 both).", "status"),
		aborts:         d("aborts_total", "Client aborts and shutdown cancellations by cause.", "cause"),
		timeLimitHits:  d("time_limit_hits_total", "Runs whose time limit expired."),
		panics:         d("handler_panics_total", "Handler panics (terminations are not panics)."),
		shutdownPanics: d("shutdown_panics_total", "Panics in shutdown functions."),
		follow:         follower{pool: pool},
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "run_duration_seconds", Buckets: o.buckets,
			Help: "Duration of ended runs, from start to the end of the shutdown functions, by route.",
		}, []string{"route"}),
		finish: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "run_finish_seconds", Buckets: o.buckets,
			Help: "Time from start to Finish of ended runs that called Finish, by route.",
		}, []string{"route"}),
		missed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "status_records_missed_total",
			Help: "Ended runs whose records left the pool's ring of recent runs before a scrape could observe them (a lower bound).",
		}),
	}
}

// Describe implements [prometheus.Collector].
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.startTime, c.accepted, c.active, c.afterFinish, c.runawayNow, c.runawayTotal,
		c.sessionLocked, c.maxActive, c.queueLength, c.queueWaits, c.queueTimeouts,
		c.ended, c.aborts, c.timeLimitHits, c.panics, c.shutdownPanics,
	} {
		ch <- d
	}
	c.duration.Describe(ch)
	c.finish.Describe(ch)
	c.missed.Describe(ch)
}

// observe feeds the histograms with one ended run. It is safe for
// concurrent use: a Feed calls it on the goroutines that end runs.
func (c *collector) observe(rec lifeline.Record) {
	route := strings.ToValidUTF8(rec.Route, "\uFFFD")
	if o, err := c.duration.GetMetricWithLabelValues(route); err == nil {
		o.Observe(rec.Duration.Seconds())
	}
	if !rec.Finished {
		return
	}
	if o, err := c.finish.GetMetricWithLabelValues(route); err == nil {
		o.Observe(rec.FinishedAfter.Seconds())
	}
}

// Collect implements [prometheus.Collector]. Without a Feed it first feeds
// the histograms with the records that ended since the previous collect.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	var (
		st     lifeline.Stats
		active []lifeline.RunInfo
	)
	if c.fed {
		st, active = c.pool.Stats(), c.pool.Active()
	} else {
		c.mu.Lock()
		var fresh []lifeline.Record
		var lost uint64
		fresh, lost, st, active = c.follow.poll()
		for _, rec := range fresh {
			c.observe(rec)
		}
		c.missed.Add(float64(lost))
		c.mu.Unlock()
	}

	var runaway, locked int
	for _, ri := range active {
		if ri.Runaway {
			runaway++
		}
		if sessionLocked(ri.Notes) {
			locked++
		}
	}
	counter, gauge := prometheus.CounterValue, prometheus.GaugeValue
	send := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		m, err := prometheus.NewConstMetric(d, t, v, labels...)
		if err != nil {
			m = prometheus.NewInvalidMetric(d, err)
		}
		ch <- m
	}
	send(c.startTime, gauge, float64(st.Start.UnixNano())/1e9)
	send(c.accepted, counter, float64(st.Accepted))
	send(c.active, gauge, float64(st.Active))
	send(c.afterFinish, gauge, float64(st.Finished))
	send(c.runawayNow, gauge, float64(runaway))
	send(c.runawayTotal, counter, float64(st.Runaway))
	send(c.sessionLocked, gauge, float64(locked))
	send(c.maxActive, gauge, float64(st.MaxActive))
	send(c.queueLength, gauge, float64(st.Queued))
	send(c.queueWaits, counter, float64(st.QueueWaits))
	send(c.queueTimeouts, counter, float64(st.QueueTimeouts))
	for i, n := range st.ByStatus {
		send(c.ended, counter, float64(n), string(rune('0'+i)))
	}
	for cause, n := range st.Aborts {
		send(c.aborts, counter, float64(n), cause)
	}
	send(c.timeLimitHits, counter, float64(st.TimeLimitHits))
	send(c.panics, counter, float64(st.Panics))
	send(c.shutdownPanics, counter, float64(st.ShutdownPanics))
	c.duration.Collect(ch)
	c.finish.Collect(ch)
	c.missed.Collect(ch)
}
