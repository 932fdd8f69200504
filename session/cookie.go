package session

import (
	"net/http"
	"strings"
	"time"
)

// cookie returns the session cookie for id: HttpOnly always, Secure on TLS
// requests (or always, with WithSecure), SameSite from the options, and an
// expiry at deadline for persistent cookies.
func (s *Session) cookie(id string, deadline time.Time) *http.Cookie {
	o := &s.m.opts
	c := &http.Cookie{
		Name:     o.cookieName,
		Value:    id,
		Path:     o.cookiePath,
		Domain:   o.cookieDomain,
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: o.sameSite,
	}
	if o.persistent && !deadline.IsZero() {
		c.Expires = deadline.UTC()
		c.MaxAge = max(1, int(time.Until(deadline)/time.Second))
	}
	return c
}

// setCookie sends the cookie for id, replacing one set earlier in the same
// response.
func (s *Session) setCookie(id string, deadline time.Time) {
	if s.w == nil {
		return
	}
	replaceCookie(s.w.Header(), s.cookie(id, deadline))
}

// replaceCookie sets c in h, dropping any Set-Cookie of the same name.
func replaceCookie(h http.Header, c *http.Cookie) {
	prefix := c.Name + "="
	kept := h.Values("Set-Cookie")[:0:0]
	for _, v := range h.Values("Set-Cookie") {
		if !strings.HasPrefix(v, prefix) {
			kept = append(kept, v)
		}
	}
	h.Del("Set-Cookie")
	for _, v := range kept {
		h.Add("Set-Cookie", v)
	}
	h.Add("Set-Cookie", c.String())
}
