package status

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The defaults, each explained where its option is documented.
const (
	// DefaultRefresh is the default of [WithRefresh].
	DefaultRefresh = time.Second
	// DefaultPoolName is the default of [WithPoolName].
	DefaultPoolName = "lifeline"
	// DefaultNamespace is the default of [WithNamespace].
	DefaultNamespace = "lifeline"
)

// DefaultBuckets returns the default of [WithBuckets], in seconds: from 5 ms
// to 2 minutes, so that runs near PHP's 30 s max_execution_time and work
// after Finish still land in a finite bucket.
func DefaultBuckets() []float64 {
	return []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}
}

// Option configures a [Handler], a [Metrics] handler or [LogRecords]. Each
// applies where it makes sense and is ignored elsewhere: WithBuckets means
// nothing to the HTML page. Options are applied in order and validated once,
// by the constructor.
type Option func(*options)

type options struct {
	token       string // "" = loopback only
	queryString bool
	refresh     time.Duration
	poolName    string
	namespace   string
	buckets     []float64
	errs        []error // option errors found while applying, reported by validate
}

func defaultOptions() options {
	return options{
		refresh:   DefaultRefresh,
		poolName:  DefaultPoolName,
		namespace: DefaultNamespace,
		buckets:   DefaultBuckets(),
	}
}

// newOptions applies opts over the defaults and validates the result.
func newOptions(opts []Option) (options, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if opt == nil {
			return o, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		opt(&o)
	}
	return o, o.validate()
}

func (o *options) validate() error {
	if len(o.errs) > 0 {
		return o.errs[0]
	}
	switch {
	case o.refresh < 0:
		return fmt.Errorf("%w: WithRefresh(%v): negative", ErrInvalidOption, o.refresh)
	case o.poolName == "":
		return fmt.Errorf("%w: WithPoolName: empty name", ErrInvalidOption)
	case !validMetricName(o.namespace):
		return fmt.Errorf("%w: WithNamespace(%q): not a Prometheus metric name", ErrInvalidOption, o.namespace)
	case len(o.buckets) == 0:
		return fmt.Errorf("%w: WithBuckets: no buckets", ErrInvalidOption)
	}
	for i, b := range o.buckets {
		if b <= 0 || (i > 0 && b <= o.buckets[i-1]) {
			return fmt.Errorf("%w: WithBuckets(%v): bounds must be positive and strictly increasing", ErrInvalidOption, o.buckets)
		}
	}
	return nil
}

// WithBearerToken makes the handlers serve any client that sends
// "Authorization: Bearer <token>", compared in constant time (of the
// token's SHA-256, so that not even its length leaks), and answer 401 to
// the others. Without it, the default, the handlers serve only clients
// connected from a loopback address (127.0.0.0/8, ::1) whose request
// carries no Forwarded, X-Forwarded-For or X-Real-IP header (a reverse proxy
// on the same host would otherwise expose the page), and answer 403 to the
// others. The token must be a non-empty RFC 6750 b64token (letters, digits
// and -._~+/, then optional = padding).
//
// A browser cannot send a bearer token on its own: reach a token-protected
// page through a proxy that adds the header, or use the loopback default
// through an SSH tunnel.
func WithBearerToken(token string) Option {
	return func(o *options) {
		if !validToken(token) {
			o.errs = append(o.errs, fmt.Errorf("%w: WithBearerToken: not an RFC 6750 b64token", ErrInvalidOption))
			return
		}
		o.token = token
	}
}

// WithQueryStrings sets whether request URIs keep their query strings on the
// page, in the JSON and in the logs of [LogRecords]. The default, false,
// removes them: query strings often carry tokens and personal data.
func WithQueryStrings(show bool) Option {
	return func(o *options) { o.queryString = show }
}

// WithRefresh sets how often the HTML page refreshes itself: its script
// fetches ?json&full at this period, and without JavaScript a
// <meta http-equiv="refresh"> reloads the page (in whole seconds, at least
// one). The default is 1s, PHP-FPM status page style; 0 turns refreshing off.
func WithRefresh(d time.Duration) Option {
	return func(o *options) { o.refresh = d }
}

// WithPoolName sets the name shown as the page title and the "pool" field
// of the JSON, PHP-FPM's pool name. The default is "lifeline".
func WithPoolName(name string) Option {
	return func(o *options) { o.poolName = name }
}

// WithNamespace sets the prefix of every Prometheus metric name. The default
// is "lifeline", giving names such as lifeline_runs_active.
func WithNamespace(ns string) Option {
	return func(o *options) { o.namespace = ns }
}

// WithBuckets sets the upper bounds, in seconds, of the run duration and
// time-to-Finish histograms. They must be positive and strictly increasing.
// The default is [DefaultBuckets].
func WithBuckets(bounds ...float64) Option {
	return func(o *options) { o.buckets = slices.Clone(bounds) }
}

// validToken reports whether t is an RFC 6750 b64token.
func validToken(t string) bool {
	body := strings.TrimRight(t, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~+/", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validMetricName reports whether s matches [a-zA-Z_:][a-zA-Z0-9_:]*.
func validMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_', c == ':':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
