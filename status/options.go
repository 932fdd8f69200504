package status

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
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
// by the constructor; a nil Option is an error wrapping [ErrInvalidOption].
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	token          string   // "" = loopback only
	tokenFile      string   // WithBearerTokenFile, read by resolve
	hosts          []string // WithAllowedHosts; nil = DefaultAllowedHosts
	queryString    bool
	logger         *slog.Logger // nil = slog.Default()
	refresh        time.Duration
	poolName       string
	namespace      string
	buckets        []float64
	feed           *Feed         // WithFeed; nil = poll the ring
	sections       []sectionSpec // WithSection, in option order
	sectionTimeout time.Duration
	errs           []error // option errors found while applying, reported by validate
}

func defaultOptions() options {
	return options{
		refresh:        DefaultRefresh,
		poolName:       DefaultPoolName,
		namespace:      DefaultNamespace,
		buckets:        DefaultBuckets(),
		sectionTimeout: DefaultSectionTimeout,
	}
}

// newOptions applies opts over the defaults and validates the result.
func newOptions(opts []Option) (options, error) {
	o := defaultOptions()
	for i, opt := range opts {
		if opt == nil {
			return o, fmt.Errorf("%w: option %d is nil", ErrInvalidOption, i+1)
		}
		opt.apply(&o)
	}
	if err := o.validate(); err != nil {
		return o, err
	}
	return o, o.resolve()
}

// maxTokenFile bounds what WithBearerTokenFile reads: a token is short.
const maxTokenFile = 4 << 10

// resolve reads the token file, once, when New validates the options.
func (o *options) resolve() error {
	if o.tokenFile == "" {
		return nil
	}
	f, err := os.Open(o.tokenFile)
	if err != nil {
		return fmt.Errorf("%w: WithBearerTokenFile: %w", ErrInvalidOption, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return fmt.Errorf("%w: WithBearerTokenFile: %w", ErrInvalidOption, err)
	}
	if len(b) > maxTokenFile {
		return fmt.Errorf("%w: WithBearerTokenFile(%q): longer than %d bytes", ErrInvalidOption, o.tokenFile, maxTokenFile)
	}
	tok := string(bytes.TrimRight(b, " \t\r\n"))
	if !validToken(tok) { // the message never quotes the file's content
		return fmt.Errorf("%w: WithBearerTokenFile(%q): not an RFC 6750 b64token on one line", ErrInvalidOption, o.tokenFile)
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		o.log().Warn("status: the bearer token file is readable by other users; chmod 600 it",
			"file", o.tokenFile, "mode", fi.Mode().Perm().String())
	}
	o.token = tok
	return nil
}

func (o *options) log() *slog.Logger {
	if o.logger == nil {
		return slog.Default()
	}
	return o.logger
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
	case o.token != "" && o.tokenFile != "":
		return fmt.Errorf("%w: WithBearerToken and WithBearerTokenFile: give one", ErrInvalidOption)
	case o.hosts != nil && len(o.hosts) == 0:
		return fmt.Errorf("%w: WithAllowedHosts: no hosts", ErrInvalidOption)
	case o.sectionTimeout <= 0:
		return fmt.Errorf("%w: WithSectionTimeout(%v): not positive", ErrInvalidOption, o.sectionTimeout)
	}
	for i, s := range o.sections {
		for _, prev := range o.sections[:i] {
			if prev.name == s.name {
				return fmt.Errorf("%w: WithSection(%q): a section has this name already", ErrInvalidOption, s.name)
			}
		}
	}
	for _, h := range o.hosts {
		if !validHostEntry(h) {
			return fmt.Errorf("%w: WithAllowedHosts(%q): not a host name or IP address without a port, nor \"*\"", ErrInvalidOption, h)
		}
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
// the others, wherever they connect from. Without a token, the default, the
// handlers serve only loopback clients that no proxy forwarded, and answer
// 403 to the others ([Access] has the whole rule). Either way the Host must
// be allowed ([WithAllowedHosts]). The token must be a non-empty RFC 6750
// b64token (letters, digits and -._~+/, then optional = padding).
//
// A token in a program's arguments is visible to every local user (ps,
// /proc/PID/cmdline): read it from a file ([WithBearerTokenFile]) or the
// environment and pass it here.
//
// A browser cannot send a bearer token on its own: reach a token-protected
// page through a proxy that adds the header, or use the loopback default
// through an SSH tunnel.
func WithBearerToken(token string) Option {
	return optionFunc(func(o *options) {
		if !validToken(token) {
			o.errs = append(o.errs, fmt.Errorf("%w: WithBearerToken: not an RFC 6750 b64token", ErrInvalidOption))
			return
		}
		o.token = token
	})
}

// WithBearerTokenFile is [WithBearerToken] with the token read from the file
// at path, once, by the constructor: the whole file less its trailing
// spaces and line ends (a file written by echo works), at most 4 KiB. A
// missing file, an empty one or one that is not a token on one line is an
// error wrapping [ErrInvalidOption] that never quotes the file's content. A
// file that other users may read is accepted with a warning in the log
// ([WithLogger]). It cannot be combined with WithBearerToken. The default is
// no token.
func WithBearerTokenFile(path string) Option {
	return optionFunc(func(o *options) {
		if path == "" {
			o.errs = append(o.errs, fmt.Errorf("%w: WithBearerTokenFile: empty path", ErrInvalidOption))
			return
		}
		o.tokenFile = path
	})
}

// WithAllowedHosts sets the host names and addresses a request's Host
// header may name (with any port) for the handlers to serve it; others get
// 403. It stops DNS rebinding: a page of evil.example that made a local
// browser resolve its name to 127.0.0.1 connects from loopback but sends
// Host: evil.example. The default, [DefaultAllowedHosts], is localhost,
// 127.0.0.1 and [::1]. The hosts given replace the default (list the
// loopback names again to keep them): names without a port, IP addresses,
// IPv6 with or without brackets. "*" allows any Host: only for handlers
// behind a bearer token that no proxy adds for the browser.
func WithAllowedHosts(hosts ...string) Option {
	return optionFunc(func(o *options) { o.hosts = append(make([]string, 0, len(hosts)), hosts...) })
}

// WithQueryStrings sets whether request URIs keep their query strings on the
// page, in the JSON, in the logs of [LogRecords] and in [Access.URI]. The
// default, false, removes them: query strings often carry tokens and
// personal data (?token=..., ?email=...), and turning them on shows them to
// whoever passes the access rule. Nothing of the package ever shows request
// headers or cookies; run notes ([lifeline.Run.Annotate]) are shown as the
// handlers wrote them, so do not annotate secrets.
func WithQueryStrings(show bool) Option {
	return optionFunc(func(o *options) { o.queryString = show })
}

// WithLogger sets where the handlers log what a client is not told: the
// detail of an internal error, answered with "internal error (id ...)"
// and logged with the same id. The default is [slog.Default].
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// WithRefresh sets how often the HTML page refreshes itself: its script
// fetches ?json&full at this period, and without JavaScript a
// <meta http-equiv="refresh"> reloads the page (in whole seconds, at least
// one). The default is 1s, PHP-FPM status page style; 0 turns refreshing off.
func WithRefresh(d time.Duration) Option {
	return optionFunc(func(o *options) { o.refresh = d })
}

// WithPoolName sets the name shown as the page title and the "pool" field
// of the JSON, PHP-FPM's pool name. The default is "lifeline".
func WithPoolName(name string) Option {
	return optionFunc(func(o *options) { o.poolName = name })
}

// WithNamespace sets the prefix of every Prometheus metric name. The default
// is "lifeline", giving names such as lifeline_runs_active.
func WithNamespace(ns string) Option {
	return optionFunc(func(o *options) { o.namespace = ns })
}

// WithBuckets sets the upper bounds, in seconds, of the run duration and
// time-to-Finish histograms. They must be positive and strictly increasing.
// The default is [DefaultBuckets].
func WithBuckets(bounds ...float64) Option {
	return optionFunc(func(o *options) { o.buckets = slices.Clone(bounds) })
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

// validHostEntry reports whether h may be given to WithAllowedHosts: "*",
// an IP address (IPv6 bracketed or not, no zone), or a DNS name without a
// port (letters, digits, '-', '_' and dots).
func validHostEntry(h string) bool {
	if h == "*" {
		return true
	}
	inner := h
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		inner = h[1 : len(h)-1]
		ip, err := netip.ParseAddr(inner)
		return err == nil && ip.Is6() && ip.Zone() == ""
	}
	if ip, err := netip.ParseAddr(inner); err == nil {
		return ip.Zone() == ""
	}
	name := strings.TrimSuffix(h, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}
