package phpfpm

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Option configures a [Server]; [Start] validates the options once.
type Option func(*options)

type options struct {
	dir          string
	docRoot      string
	ini          [][2]string
	params       [][2]string
	directives   []string
	locations    []location
	workers      int
	startTimeout time.Duration

	nginxWorkers int // worker_processes; 0 is "auto"
	nginxConns   int // worker_connections
	backlog      int // listen backlog of nginx and the pool; 0 keeps theirs
	accessLog    bool
	fcgiKeep     int // idle FastCGI connections nginx keeps per worker; 0: none
	cpus         string
}

// location is an extra nginx location serving the document root's scripts
// under a path prefix, with its own directives.
type location struct {
	prefix     string
	directives []string
}

func defaultOptions() options {
	return options{workers: 4, startTimeout: 10 * time.Second, nginxWorkers: 1, nginxConns: 512, accessLog: true}
}

// WithDir sets the directory that holds everything the server writes: its
// configuration files, the FastCGI socket, pid files, logs and nginx's
// temporary files. It is required and must exist; a test passes t.TempDir().
// The socket path must fit in a Unix socket address (108 bytes).
func WithDir(dir string) Option { return func(o *options) { o.dir = dir } }

// WithDocRoot sets the directory of the PHP scripts nginx serves. It is
// required.
func WithDocRoot(dir string) Option { return func(o *options) { o.docRoot = dir } }

// WithINI sets a php.ini directive for every request, passed to php-fpm as
// -d key=value. php-fpm runs with -n (no php.ini file, no conf.d scan), so
// PHP starts from its built-in defaults plus these, whatever the machine's
// /etc/php holds.
func WithINI(key, value string) Option {
	return func(o *options) { o.ini = append(o.ini, [2]string{key, value}) }
}

// WithParam adds a fastcgi_param to every PHP location, as $_SERVER[name]
// in the scripts. The value is an nginx string: it may use nginx variables.
func WithParam(name, value string) Option {
	return func(o *options) { o.params = append(o.params, [2]string{name, value}) }
}

// WithDirectives adds nginx directives to the default location, the one
// serving /script.php (for example "fastcgi_buffering off"). A trailing
// semicolon is added when missing.
func WithDirectives(directives ...string) Option {
	return func(o *options) { o.directives = append(o.directives, directives...) }
}

// WithLocation adds a location serving the same scripts under prefix, with
// its own nginx directives: WithLocation("/gz/", "gzip on") makes
// /gz/a.php run a.php with nginx compressing the response. The prefix
// starts and ends with a slash and holds only letters, digits, '-' and '_'
// between them. The default location's directives do not apply to it.
func WithLocation(prefix string, directives ...string) Option {
	return func(o *options) {
		o.locations = append(o.locations, location{prefix: prefix, directives: directives})
	}
}

// WithWorkers sets the number of PHP-FPM worker processes (pm = static,
// pm.max_children). The default is 4.
func WithWorkers(n int) Option { return func(o *options) { o.workers = n } }

// WithStartTimeout bounds how long [Start] waits for each server to accept
// connections. The default is 10s.
func WithStartTimeout(d time.Duration) Option { return func(o *options) { o.startTimeout = d } }

// WithNginxWorkers sets nginx's worker_processes; 0 writes "auto", one per
// CPU. The default is 1.
func WithNginxWorkers(n int) Option { return func(o *options) { o.nginxWorkers = n } }

// WithNginxConnections sets nginx's worker_connections, the connections
// each nginx worker holds at once, counting both the client's and the one
// to PHP-FPM of every request in flight. Above 512 it also raises
// worker_rlimit_nofile to match. The default is 512.
func WithNginxConnections(n int) Option { return func(o *options) { o.nginxConns = n } }

// WithListenBacklog sets the listen backlog of nginx's socket (listen
// backlog=n) and of the pool's (listen.backlog), the connections the
// kernel queues for each before they are accepted; the kernel caps it at
// net.core.somaxconn. The default, 0, leaves both servers' own default
// (511).
func WithListenBacklog(n int) Option { return func(o *options) { o.backlog = n } }

// WithAccessLog turns nginx's access log (nginx-access.log in the
// [WithDir] directory) on or off. The default is on.
func WithAccessLog(on bool) Option { return func(o *options) { o.accessLog = on } }

// WithFastCGIKeepalive makes nginx keep up to n idle connections to the
// pool per nginx worker (an upstream with keepalive n and fastcgi_keep_conn
// on) instead of one connection per request. A PHP-FPM worker stays with
// its kept connection, so after fastcgi_finish_request the next request
// sent over it waits for the script to end. The default, 0, opens one
// connection per request, as nginx does by default.
func WithFastCGIKeepalive(n int) Option { return func(o *options) { o.fcgiKeep = n } }

// WithCPUs runs php-fpm and nginx, and so all their workers, on the given
// CPUs only, started under taskset -c cpus (a list such as "0" or "0,2-3"),
// for benchmarks that keep the load tool on other CPUs. The default, "",
// lets them run on every CPU.
func WithCPUs(cpus string) Option { return func(o *options) { o.cpus = cpus } }

var (
	cpusRE   = regexp.MustCompile(`^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$`)
	prefixRE = regexp.MustCompile(`^/[A-Za-z0-9_-]+/$`)
	iniKeyRE = regexp.MustCompile(`^[A-Za-z0-9_.]+$`)
	nameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// maxSocketPath is the room for a path in a Unix socket address on Linux.
const maxSocketPath = 107

func (o *options) validate() error {
	switch {
	case o.dir == "":
		return fmt.Errorf("%w: WithDir is required", ErrInvalidOption)
	case o.docRoot == "":
		return fmt.Errorf("%w: WithDocRoot is required", ErrInvalidOption)
	case o.workers < 1:
		return fmt.Errorf("%w: WithWorkers(%d): at least 1", ErrInvalidOption, o.workers)
	case o.startTimeout <= 0:
		return fmt.Errorf("%w: WithStartTimeout(%v): must be positive", ErrInvalidOption, o.startTimeout)
	case o.nginxWorkers < 0:
		return fmt.Errorf("%w: WithNginxWorkers(%d): negative", ErrInvalidOption, o.nginxWorkers)
	case o.nginxConns < 16:
		return fmt.Errorf("%w: WithNginxConnections(%d): at least 16", ErrInvalidOption, o.nginxConns)
	case o.backlog < 0:
		return fmt.Errorf("%w: WithListenBacklog(%d): negative", ErrInvalidOption, o.backlog)
	case o.cpus != "" && !cpusRE.MatchString(o.cpus):
		return fmt.Errorf("%w: WithCPUs(%q): want a CPU list such as 0,2-3", ErrInvalidOption, o.cpus)
	case o.fcgiKeep < 0:
		return fmt.Errorf("%w: WithFastCGIKeepalive(%d): negative", ErrInvalidOption, o.fcgiKeep)
	case !filepath.IsAbs(o.dir) || !filepath.IsAbs(o.docRoot):
		return fmt.Errorf("%w: WithDir and WithDocRoot need absolute paths", ErrInvalidOption)
	case len(filepath.Join(o.dir, socketName)) > maxSocketPath:
		return fmt.Errorf("%w: WithDir(%q): too long for a Unix socket path", ErrInvalidOption, o.dir)
	}
	for _, kv := range o.ini {
		if !iniKeyRE.MatchString(kv[0]) || strings.ContainsAny(kv[1], "\n\x00") {
			return fmt.Errorf("%w: WithINI(%q, %q)", ErrInvalidOption, kv[0], kv[1])
		}
	}
	for _, kv := range o.params {
		if !nameRE.MatchString(kv[0]) || !safeNginx(kv[1]) {
			return fmt.Errorf("%w: WithParam(%q, %q)", ErrInvalidOption, kv[0], kv[1])
		}
	}
	for _, d := range o.directives {
		if !safeNginx(d) {
			return fmt.Errorf("%w: WithDirectives(%q)", ErrInvalidOption, d)
		}
	}
	for _, l := range o.locations {
		if !prefixRE.MatchString(l.prefix) {
			return fmt.Errorf("%w: WithLocation(%q): want /name/", ErrInvalidOption, l.prefix)
		}
		for _, d := range l.directives {
			if !safeNginx(d) {
				return fmt.Errorf("%w: WithLocation(%q, %q)", ErrInvalidOption, l.prefix, d)
			}
		}
	}
	return nil
}

// safeNginx reports whether s can be placed in the nginx configuration
// without opening or closing a block.
func safeNginx(s string) bool {
	return !strings.ContainsAny(s, "{}\n\x00")
}
