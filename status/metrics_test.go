package status_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/status"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape gets h's metrics and parses them with the Prometheus text parser.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	w := get(h, "/metrics")
	if w.Code != 200 {
		t.Fatalf("GET /metrics: code = %d: %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(w.Body)
	if err != nil {
		t.Fatalf("parsing the metrics: %v", err)
	}
	return fams
}

// value returns the value of the series name{labels} (a counter, a gauge,
// or a histogram's count), or -1 if it is absent.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	fam, ok := fams[name]
	if !ok {
		return -1
	}
	for _, m := range fam.GetMetric() {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

func TestMetrics(t *testing.T) {
	pool := newPool(t, lifeline.WithRecentRuns(2))
	m, err := status.NewMetrics(pool)
	if err != nil {
		t.Fatal(err)
	}
	plain := pool.Middleware(lifeline.WithRoute("plain"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	runs := func(n int) {
		for range n {
			get(plain, "/plain")
			drain(t, pool)
		}
	}
	type want struct {
		name   string
		labels []string
		value  float64
	}
	check := func(step string, wants ...want) {
		t.Helper()
		fams := scrape(t, m)
		for _, w := range wants {
			if got := value(fams, w.name, w.labels...); got != w.value {
				t.Errorf("%s: %s%v = %v, want %v", step, w.name, w.labels, got, w.value)
			}
		}
	}

	// Five runs before the first scrape: the ring (2) keeps the last two,
	// the three others are missed.
	runs(5)
	check("after 5 runs",
		want{"lifeline_runs_accepted_total", nil, 5},
		want{"lifeline_runs_ended_total", []string{"status", "0"}, 5},
		want{"lifeline_runs_ended_total", []string{"status", "1"}, 0},
		want{"lifeline_run_duration_seconds", []string{"route", "plain"}, 2},
		want{"lifeline_status_records_missed_total", nil, 3},
		want{"lifeline_runs_active", nil, 0},
	)
	runs(1) // observed: the ring still holds the newest record seen
	check("after 6 runs",
		want{"lifeline_run_duration_seconds", []string{"route", "plain"}, 3},
		want{"lifeline_status_records_missed_total", nil, 3},
	)
	check("again", // nothing new changes nothing
		want{"lifeline_run_duration_seconds", []string{"route", "plain"}, 3},
		want{"lifeline_status_records_missed_total", nil, 3},
	)
	runs(3) // the newest record seen is evicted: two observed, one missed
	check("after 9 runs",
		want{"lifeline_run_duration_seconds", []string{"route", "plain"}, 5},
		want{"lifeline_status_records_missed_total", nil, 4},
		want{"lifeline_runs_ended_total", []string{"status", "0"}, 9},
	)

	// A run that calls Finish and works on, holding a session lock.
	release := make(chan struct{})
	fin := pool.Middleware(lifeline.WithRoute("fin"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		rn.Annotate("session", "locked #a1b2c3")
		_ = rn.Finish()
		<-release
	}))
	get(fin, "/fin")
	// The client has its response a moment before the run counts as
	// finished (lifeline's Finish releases the response first).
	waitFor(t, "the run to be finished", func() bool { return pool.Stats().Finished == 1 })
	check("while a finished run works",
		want{"lifeline_runs_active", nil, 1},
		want{"lifeline_runs_after_finish", nil, 1},
		want{"lifeline_runs_session_locked", nil, 1},
		want{"lifeline_runs_runaway", nil, 0},
		want{"lifeline_run_finish_seconds", []string{"route", "fin"}, -1},
		want{"lifeline_status_records_missed_total", nil, 4},
	)
	close(release)
	drain(t, pool)
	check("after the finished run",
		want{"lifeline_runs_active", nil, 0},
		want{"lifeline_runs_after_finish", nil, 0},
		want{"lifeline_run_finish_seconds", []string{"route", "fin"}, 1},
		want{"lifeline_run_duration_seconds", []string{"route", "fin"}, 1},
		want{"lifeline_status_records_missed_total", nil, 4},
	)

	fams := scrape(t, m)
	for _, name := range []string{
		"lifeline_pool_start_time_seconds", "lifeline_runs_runaway_total", "lifeline_runs_max_active",
		"lifeline_queue_length", "lifeline_queue_waits_total", "lifeline_queue_timeouts_total",
		"lifeline_aborts_total", "lifeline_time_limit_hits_total", "lifeline_handler_panics_total",
		"lifeline_shutdown_panics_total",
	} {
		if _, ok := fams[name]; !ok {
			t.Errorf("no metric %s", name)
		}
	}
	for _, cause := range []string{"closed", "reset", "silent-peer", "shutdown"} {
		if got := value(fams, "lifeline_aborts_total", "cause", cause); got != 0 {
			t.Errorf("lifeline_aborts_total{cause=%q} = %v, want 0", cause, got)
		}
	}
}

func TestMetricsOptions(t *testing.T) {
	pool := newPool(t)
	get(pool.Middleware()(http.NotFoundHandler()), "/x")
	drain(t, pool)
	m, err := status.NewMetrics(pool, status.WithNamespace("app"), status.WithBuckets(0.5, 1))
	if err != nil {
		t.Fatal(err)
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "extra", Help: "An added gauge."})
	m.Registry().MustRegister(g)
	fams := scrape(t, m)
	if value(fams, "app_runs_accepted_total") != 1 || value(fams, "extra") != 0 {
		t.Errorf("app_runs_accepted_total = %v, extra = %v, want 1 and 0",
			value(fams, "app_runs_accepted_total"), value(fams, "extra"))
	}
	for name := range fams {
		if !strings.HasPrefix(name, "app_") && name != "extra" {
			t.Errorf("metric %s lacks the namespace", name)
		}
	}
	if b := fams["app_run_duration_seconds"].GetMetric()[0].GetHistogram().GetBucket(); len(b) != 3 || b[0].GetUpperBound() != 0.5 || b[1].GetUpperBound() != 1 {
		t.Errorf("buckets = %v, want 0.5, 1 and +Inf", b)
	}

	// The collector registered elsewhere: no global registry involved.
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(m.Collector()); err != nil {
		t.Fatalf("registering the collector: %v", err)
	}
	got, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	if len(got) == 0 {
		t.Error("Gather returned nothing")
	}
}
