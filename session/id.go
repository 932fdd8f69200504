package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
)

const (
	idBytes = 24 // 192 bits from crypto/rand
	idLen   = 32 // base64url, no padding: 24 bytes are exactly 32 characters
)

// newID returns a fresh session id: 192 random bits from crypto/rand,
// base64url-encoded without padding (32 characters).
func newID() string {
	var b [idBytes]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24; it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ParseID returns s if it is a well-formed session id: exactly 32
// characters of the base64url alphabet (A-Z a-z 0-9 - _), the form the
// Manager issues. Anything else returns an error wrapping [ErrInvalidID].
// The Manager checks every id from a cookie with it before a store sees the
// id, so stores never get control characters, separators or huge keys.
func ParseID(s string) (string, error) {
	if len(s) != idLen {
		return "", fmt.Errorf("%w: length %d, want %d", ErrInvalidID, len(s), idLen)
	}
	for i := 0; i < len(s); i++ {
		if !isIDByte(s[i]) {
			return "", fmt.Errorf("%w: byte %#x at %d", ErrInvalidID, s[i], i)
		}
	}
	return s, nil
}

func isIDByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// idFromRequest returns the first well-formed id among r's cookies named
// name, or "" if there is none.
func idFromRequest(r *http.Request, name string) string {
	if ids := idsFromRequest(r, name); len(ids) > 0 {
		return ids[0]
	}
	return ""
}

// idsFromRequest returns the well-formed ids among r's cookies named name,
// in the order the client sent them.
func idsFromRequest(r *http.Request, name string) []string {
	var ids []string
	for _, c := range r.CookiesNamed(name) {
		if id, err := ParseID(c.Value); err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// fingerprint returns a short, non-reversible tag of id for logs and run
// annotations ("#a1b2c3"), so the status page can match a lock holder with
// its waiters without showing a usable session id.
func fingerprint(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "#" + hex.EncodeToString(sum[:3])
}
