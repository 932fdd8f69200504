package status

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// Access is the access rule of the status handlers, one policy for
// everything that shows runs: a [Handler], its [Metrics], and any listing of
// your own that shows what the pool runs (wrap it with [Access.Handler]).
// [New] builds one from its options and [Handler.Access] returns it;
// [NewAccess] builds one alone. It is immutable and safe for concurrent use.
//
// A request is served when all of these hold, else refused (see
// [AccessError]):
//
//   - Its Host header names an allowed host ([WithAllowedHosts]; by default
//     localhost, 127.0.0.1 and [::1], with any port), so that a page whose
//     name a browser was made to resolve to 127.0.0.1 (DNS rebinding) is
//     refused: 403.
//   - With a bearer token ([WithBearerToken], [WithBearerTokenFile]): it
//     carries "Authorization: Bearer <token>"; else 401. Where it comes
//     from does not matter.
//   - Without a token: the connection comes from a loopback address
//     (127.0.0.0/8, ::1), read from [http.Request.RemoteAddr] only, and the
//     request carries no forwarding header, else 403. A reverse proxy on the
//     same host connects from loopback on behalf of someone else; the
//     headers it adds say so. Headers can only take access away, never
//     grant it: no header is ever read as the client's address. The
//     forwarding headers are, compared case-insensitively with '_' read as
//     '-': Forwarded, Via, every X-Forwarded-* (X-Forwarded-For,
//     X-Forwarded-Host, ...) and every name containing "forwarded", every
//     name ending in Client-IP or Real-IP (X-Real-IP, X-Client-IP,
//     True-Client-IP, X-Cluster-Client-IP, Fastly-Client-IP, Client-IP),
//     CF-Connecting-IP, X-Originating-IP, X-Remote-IP, X-Remote-Addr and
//     X-ProxyUser-IP.
type Access struct {
	hasToken     bool
	sum          [sha256.Size]byte // SHA-256 of the token
	anyHost      bool              // WithAllowedHosts("*")
	hosts        []string          // allowed hosts, normalised by normHost
	queryStrings bool              // WithQueryStrings
}

// NewAccess returns the access rule that opts describe ([WithBearerToken],
// [WithBearerTokenFile], [WithAllowedHosts] and [WithQueryStrings] apply;
// the other options are validated and ignored). It returns an error
// wrapping [ErrInvalidOption] for a bad option.
func NewAccess(opts ...Option) (*Access, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	return newAccess(&o), nil
}

// DefaultAllowedHosts returns the default of [WithAllowedHosts]: the
// loopback names, which no DNS rebinding can produce.
func DefaultAllowedHosts() []string { return []string{"localhost", "127.0.0.1", "[::1]"} }

func newAccess(o *options) *Access {
	a := &Access{queryStrings: o.queryString}
	if o.token != "" {
		a.hasToken, a.sum = true, sha256.Sum256([]byte(o.token))
	}
	hosts := o.hosts
	if hosts == nil {
		hosts = DefaultAllowedHosts()
	}
	for _, h := range hosts {
		if h == "*" {
			a.anyHost = true
			continue
		}
		a.hosts = append(a.hosts, normHost(h))
	}
	return a
}

// Check returns nil when r may see the runs, else an [*AccessError] that
// says why and which code to answer (401 or 403). It reads only r's
// RemoteAddr, Host and headers.
func (a *Access) Check(r *http.Request) error {
	if !a.HostAllowed(r.Host) {
		return &AccessError{Code: http.StatusForbidden, Reason: "Host not allowed"}
	}
	if a.hasToken {
		tok, ok := bearer(r.Header.Get("Authorization"))
		sum := sha256.Sum256([]byte(tok))
		if subtle.ConstantTimeCompare(sum[:], a.sum[:]) != 1 || !ok {
			return &AccessError{Code: http.StatusUnauthorized, Reason: "missing or wrong bearer token"}
		}
		return nil
	}
	if !isLoopback(r.RemoteAddr) {
		return &AccessError{Code: http.StatusForbidden, Reason: "not a loopback client"}
	}
	if name, ok := forwarded(r.Header); ok {
		return &AccessError{Code: http.StatusForbidden, Reason: "forwarded request (" + name + ")"}
	}
	return nil
}

// HostAllowed reports whether host, a Host header value ("name",
// "name:port", "[v6]:port"), names an allowed host ([WithAllowedHosts]).
// Names are compared case-insensitively, without a trailing dot; the port
// does not matter. An empty Host is never allowed, unless any is.
func (a *Access) HostAllowed(host string) bool {
	if a.anyHost {
		return true
	}
	h, ok := hostOnly(host)
	return ok && slices.Contains(a.hosts, h)
}

// URI returns uri as the status handlers show it: without its query string
// (and fragment) unless [WithQueryStrings] turned them on.
func (a *Access) URI(uri string) string { return cleanURI(uri, a.queryStrings) }

// Handler returns next behind the rule: a refused request gets its code
// (with a Bearer challenge for 401), Cache-Control: no-store and a one-line
// reason, and never reaches next.
func (a *Access) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.Check(r); err != nil {
			a.deny(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// deny answers a request that Check refused with err.
func (a *Access) deny(w http.ResponseWriter, r *http.Request, err error) {
	code, reason := http.StatusForbidden, ""
	if ae, ok := err.(*AccessError); ok {
		code, reason = ae.Code, ae.Reason
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if code == http.StatusUnauthorized {
		v := `Bearer realm="lifeline status"`
		if r.Header.Get("Authorization") != "" {
			v += `, error="invalid_token"`
		}
		h.Set("WWW-Authenticate", v)
	}
	http.Error(w, http.StatusText(code)+": "+reason, code)
}

// bearer extracts the token of an "Authorization: Bearer <token>" value.
// The scheme is case-insensitive (RFC 9110 §11.1).
func bearer(v string) (string, bool) {
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimLeft(tok, " ")
	return tok, tok != ""
}

// isLoopback reports whether addr, an http.Request.RemoteAddr ("ip:port"),
// is a loopback address. Anything unparsable (a Unix socket's "@", an empty
// string) is not.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return ip.WithZone("").Unmap().IsLoopback()
}

// forwarded returns the first forwarding header of h (see [Access]): then a
// loopback RemoteAddr may be a proxy's, not the client's.
func forwarded(h http.Header) (string, bool) {
	for k := range h {
		if isForwardingHeader(k) {
			return k, true
		}
	}
	return "", false
}

// forwardingNames are the forwarding headers matched by their whole name,
// lower case with '-'.
var forwardingNames = []string{"forwarded", "via", "cf-connecting-ip", "x-originating-ip",
	"x-remote-ip", "x-remote-addr", "x-proxyuser-ip", "client-ip", "real-ip"}

// isForwardingHeader reports whether the header name k says a proxy
// forwarded the request, case-insensitively and with '_' read as '-' (some
// proxies and CGI bridges send X_Forwarded_For).
func isForwardingHeader(k string) bool {
	n := strings.ReplaceAll(strings.ToLower(k), "_", "-")
	return slices.Contains(forwardingNames, n) ||
		strings.Contains(n, "forwarded") ||
		strings.HasSuffix(n, "-client-ip") || strings.HasSuffix(n, "-real-ip")
}

// hostOnly returns the host of a Host header value, normalised by
// normHost, without its port; false when the value is empty or malformed.
func hostOnly(hostport string) (string, bool) {
	h := hostport
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 || !validPort(h[end+1:]) {
			return "", false
		}
		h = h[:end+1]
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if strings.IndexByte(h[:i], ':') >= 0 || !validPort(h[i:]) {
			return "", false // a bare IPv6 address is not a Host
		}
		h = h[:i]
	}
	if h == "" {
		return "", false
	}
	return normHost(h), true
}

// validPort reports whether s is "" or ":" followed by digits only.
func validPort(s string) bool {
	if s == "" {
		return true
	}
	if s[0] != ':' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// normHost lower-cases a host name, drops one trailing dot, and writes an
// IP address (bracketed or not for IPv6) in its canonical form.
func normHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	inner := strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if ip, err := netip.ParseAddr(inner); err == nil && ip.Zone() == "" {
		return ip.String()
	}
	return h
}
