package status

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// guard decides who may see the status handlers (see [WithBearerToken]).
// It is immutable after New and safe for concurrent use.
type guard struct {
	hasToken bool
	sum      [sha256.Size]byte // SHA-256 of the token
}

func newGuard(o *options) guard {
	if o.token == "" {
		return guard{}
	}
	return guard{hasToken: true, sum: sha256.Sum256([]byte(o.token))}
}

// check returns 0 when r may be served, else the status code to answer:
// 401 for a missing or wrong token, 403 for a non-loopback client when no
// token is configured.
func (g *guard) check(r *http.Request) int {
	if g.hasToken {
		tok, ok := bearer(r.Header.Get("Authorization"))
		sum := sha256.Sum256([]byte(tok))
		if subtle.ConstantTimeCompare(sum[:], g.sum[:]) != 1 || !ok {
			return http.StatusUnauthorized
		}
		return 0
	}
	if !isLoopback(r.RemoteAddr) || proxied(r.Header) {
		return http.StatusForbidden
	}
	return 0
}

// deny answers a request that check refused.
func (g *guard) deny(w http.ResponseWriter, r *http.Request, code int) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if code == http.StatusUnauthorized {
		v := `Bearer realm="lifeline status"`
		if r.Header.Get("Authorization") != "" {
			v += `, error="invalid_token"`
		}
		h.Set("WWW-Authenticate", v)
	}
	http.Error(w, http.StatusText(code), code)
}

// wrap returns next behind the guard.
func (g *guard) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code := g.check(r); code != 0 {
			g.deny(w, r, code)
			return
		}
		next.ServeHTTP(w, r)
	})
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

// proxied reports whether the request says it was forwarded by a proxy: then
// a loopback RemoteAddr is the proxy's, not the client's.
func proxied(h http.Header) bool {
	for _, k := range [...]string{"Forwarded", "X-Forwarded-For", "X-Real-Ip"} {
		if len(h.Values(k)) > 0 {
			return true
		}
	}
	return false
}
