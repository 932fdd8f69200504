package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The documented limits on demo parameters (docs/REFERENCE-SERVER.md). They
// keep a demo request from tying up the server for long: every duration is
// capped at maxDuration, and a stream at maxLines lines.
const (
	maxDuration = 60 * time.Second
	maxLines    = 1000
	maxPad      = 1 << 20 // bytes of filler in /demo/finish
	maxRefLen   = 64
)

// errBadParam is matched by every *paramError.
var errBadParam = errors.New("bad parameter")

// paramError reports a query parameter that is malformed, out of range,
// repeated or unknown. Handlers answer it with 400 Bad Request, and its
// message names the parameter and says why.
type paramError struct {
	Name   string
	Reason string
}

func (e *paramError) Error() string {
	return fmt.Sprintf("parameter %q: %s", e.Name, e.Reason)
}

// Is lets errors.Is(err, errBadParam) match.
func (e *paramError) Is(target error) bool { return target == errBadParam }

// params reads the query parameters of one request. The first problem found
// is kept in err and later reads return their defaults, so a parser reads
// every field and checks err once at the end.
type params struct {
	q    url.Values
	seen map[string]bool
	err  error
}

func newParams(q url.Values) *params {
	return &params{q: q, seen: make(map[string]bool, len(q))}
}

// query returns the request's query parameters, parsed strictly: a query
// that url.ParseQuery refuses (a ';' separator, a bad %-escape) is an error
// matching errBadParam, where r.URL.Query() would drop the pair silently
// (issue 19: /demo/finish?work=1s;pad=1 ran with the default work).
func query(r *http.Request) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, &paramError{Name: "query", Reason: err.Error()}
	}
	return q, nil
}

// parseQuery reads r's query strictly (see query) and parses it with parse,
// the demo's own parser; on either error it answers 400 itself and reports
// false. It is the first step of every demo handler.
func parseQuery[T any](w http.ResponseWriter, r *http.Request, parse func(url.Values) (T, error)) (v T, ok bool) {
	q, err := query(r)
	if err == nil {
		v, err = parse(q)
	}
	if err != nil {
		badRequest(w, err)
		return v, false
	}
	return v, true
}

func (p *params) fail(name, reason string) {
	if p.err == nil {
		p.err = &paramError{Name: name, Reason: reason}
	}
}

// value returns the single value of name, and whether it was given.
func (p *params) value(name string) (string, bool) {
	p.seen[name] = true
	vs, ok := p.q[name]
	if !ok {
		return "", false
	}
	if len(vs) > 1 {
		p.fail(name, "given more than once")
		return "", false
	}
	return vs[0], true
}

// duration reads a Go duration (200ms, 1.5s) between 0 and maxDuration.
func (p *params) duration(name string, def time.Duration) time.Duration {
	v, ok := p.value(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		p.fail(name, fmt.Sprintf("%q is not a duration: use Go syntax such as 200ms or 2s", clip(v)))
	case d < 0:
		p.fail(name, fmt.Sprintf("%v is negative", d))
	case d > maxDuration:
		p.fail(name, fmt.Sprintf("%v is more than the maximum, %v", d, maxDuration))
	default:
		return d
	}
	return def
}

// integer reads a decimal integer between lo and hi.
func (p *params) integer(name string, def, lo, hi int) int {
	v, ok := p.value(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		p.fail(name, fmt.Sprintf("%q is not a whole number", clip(v)))
	case n < lo || n > hi:
		p.fail(name, fmt.Sprintf("%d is out of range: it must be between %d and %d", n, lo, hi))
	default:
		return n
	}
	return def
}

// boolean reads a flag: 1, true, on or yes (or no value at all, as in
// ?close) turn it on; 0, false, off or no turn it off.
func (p *params) boolean(name string) bool {
	v, ok := p.value(name)
	if !ok {
		return false
	}
	switch strings.ToLower(v) {
	case "", "1", "true", "on", "yes":
		return true
	case "0", "false", "off", "no":
		return false
	}
	p.fail(name, fmt.Sprintf("%q is not a boolean: use 1 or 0", clip(v)))
	return false
}

// choice reads one of a fixed set of words; the first is the default
// ("" as the first word makes the parameter optional with no value).
func (p *params) choice(name string, words ...string) string {
	v, ok := p.value(name)
	if !ok {
		return words[0]
	}
	for _, w := range words {
		if v == w {
			return v
		}
	}
	named := make([]string, 0, len(words))
	for _, w := range words {
		if w != "" {
			named = append(named, w)
		}
	}
	p.fail(name, fmt.Sprintf("%q is not one of %s", clip(v), strings.Join(named, ", ")))
	return words[0]
}

// ref reads an order reference: up to maxRefLen letters, digits, '.', '_'
// or '-'. An absent or empty ref (a form's blank field) returns "".
func (p *params) ref(name string) string {
	v, _ := p.value(name)
	if len(v) > maxRefLen {
		p.fail(name, fmt.Sprintf("is longer than %d characters", maxRefLen))
		return ""
	}
	for i := 0; i < len(v); i++ {
		if !isRefByte(v[i]) {
			p.fail(name, fmt.Sprintf("%q has a character other than a letter, a digit, '.', '_' or '-'", clip(v)))
			return ""
		}
	}
	return v
}

func isRefByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}

// done reports the first problem, or a parameter the endpoint does not know
// (a typo such as wrok=2s would otherwise be ignored silently).
func (p *params) done() error {
	if p.err != nil {
		return p.err
	}
	var unknown []string
	for name := range p.q {
		if !p.seen[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		known := make([]string, 0, len(p.seen))
		for name := range p.seen {
			known = append(known, name)
		}
		sort.Strings(known)
		reason := "unknown parameter"
		if len(known) > 0 {
			reason += "; this endpoint takes " + strings.Join(known, ", ")
		}
		return &paramError{Name: clip(unknown[0]), Reason: reason}
	}
	return nil
}

// clip shortens a client-supplied value for an error message.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
