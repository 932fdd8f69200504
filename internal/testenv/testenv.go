// Package testenv decides what a test does when a component it needs is
// not on the machine: redis-server, PostgreSQL, PHP-FPM, nginx, Chromium, wrk and h2load,
// or root with iproute2 and iptables for network namespaces. Every test that
// looks for one goes through it (internal/redistest, internal/pgtest, internal/netns, the
// conformance suite, the browser test, the load generators).
//
// There are two tiers, as in net/http's internal/testenv:
//
//   - A bare `go test ./...` on a machine with only Go is the fast unit
//     suite. A test whose component is missing skips with one line naming
//     it and how to get it.
//   - `make test` (and CI) installs everything and exports
//     LIFELINE_REQUIRE=all. A missing component then fails the test, so the
//     full suite cannot pass by skipping.
//
// LIFELINE_REQUIRE may also list components, comma-separated
// (LIFELINE_REQUIRE=redis,chromium): only those are then required.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// RequireEnv is the environment variable that turns a missing component
// from a skip into a failure: "all", or a comma-separated list of component
// names. `make test` sets it to "all".
const RequireEnv = "LIFELINE_REQUIRE"

// Component names, as [Missing] prints them and as [RequireEnv] lists them.
const (
	Redis    = "redis"    // redis-server
	Postgres = "postgres" // PostgreSQL's initdb, postgres and psql
	PHP      = "php"      // php-fpm and php-cli, and nginx in front of them
	Chromium = "chromium" // headless Chromium for the status page
	Netns    = "netns"    // root, iproute2 and iptables for network namespaces
	Wrk      = "wrk"      // the HTTP/1 load generator
	H2load   = "h2load"   // the HTTP/2 load generator (nghttp2-client)
	Cgo      = "cgo"      // a C compiler (gcc) for tests that build a cgo program
)

// Required reports whether a missing component fails tests instead of
// skipping them, according to [RequireEnv].
func Required(component string) bool {
	v := strings.TrimSpace(os.Getenv(RequireEnv))
	if v == "all" {
		return true
	}
	return slices.Contains(strings.Split(v, ","), component)
}

// Missing ends tb because component is not available: tb.Fatal when the
// component is [Required], tb.Skip otherwise. The message names the
// component, says why (format and args) and how to get everything:
// `make deps`, which `make test` runs.
func Missing(tb testing.TB, component, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf("needs %s: %s (`make deps` installs what the tests need; `make test` runs everything)",
		component, fmt.Sprintf(format, args...))
	if Required(component) {
		tb.Fatalf("%s; %s=%s makes this a failure", msg, RequireEnv, os.Getenv(RequireEnv))
	}
	tb.Skip(msg)
}

// LookPath finds the first of names in PATH, then in /usr/sbin (Debian
// installs php-fpm and nginx there, outside an ordinary user's PATH). A
// name with a slash is taken as a path.
func LookPath(names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	for _, n := range names {
		if strings.Contains(n, "/") {
			continue
		}
		if p, err := exec.LookPath(filepath.Join("/usr/sbin", n)); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("none of %s in PATH or /usr/sbin", strings.Join(names, ", "))
}

// MustHaveExec returns the path of the first of names that [LookPath]
// finds, or calls [Missing] for component with how (the package to install,
// for example "apt-get install -y redis-server").
func MustHaveExec(tb testing.TB, component, how string, names ...string) string {
	tb.Helper()
	p, err := LookPath(names...)
	if err != nil {
		Missing(tb, component, "%v; install it with `%s`", err, how)
	}
	return p
}
