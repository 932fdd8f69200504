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
	if ids := idsFromRequest(r, name, nil); len(ids) > 0 {
		return ids[0]
	}
	return ""
}

// idsFromRequest returns the well-formed ids among r's cookies named name,
// in the order the client sent them: Lifeline ids, and foreign ids that
// accept (WithMigration; nil accepts none) takes.
func idsFromRequest(r *http.Request, name string, accept func(string) bool) []string {
	var ids []string
	for _, c := range r.CookiesNamed(name) {
		if id, err := ParseID(c.Value); err == nil {
			ids = append(ids, id)
		} else if accept != nil && safeForeignID(c.Value) && accept(c.Value) {
			ids = append(ids, c.Value)
		}
	}
	return ids
}

// maxForeignID bounds the ids of an existing system (WithMigration): PHP's
// session.sid_length is at most 256.
const maxForeignID = 256

// safeForeignID reports whether s can reach a store as a key: 1 to 256
// characters of A-Z a-z 0-9 , - _ . (no separators, braces, spaces or
// control characters).
func safeForeignID(s string) bool {
	if len(s) == 0 || len(s) > maxForeignID {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isIDByte(c) && c != ',' && c != '.' {
			return false
		}
	}
	return true
}

// PHPSessionID reports whether id has the form of a session id that PHP's
// session module issues: 22 to 256 characters (session.sid_length) of
// 0-9 a-z A-Z , - (session.sid_bits_per_character 4, 5 or 6). Give it to
// [WithMigration] to accept a PHP application's session ids.
func PHPSessionID(id string) bool {
	if len(id) < 22 || len(id) > 256 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == ',' || c == '-') {
			return false
		}
	}
	return true
}

// isForeign reports whether id is not of the form the Manager issues.
func isForeign(id string) bool {
	_, err := ParseID(id)
	return err != nil
}

// fingerprint returns a short, non-reversible tag of id for logs and run
// annotations ("#a1b2c3"), so the status page can match a lock holder with
// its waiters without showing a usable session id.
func fingerprint(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "#" + hex.EncodeToString(sum[:3])
}
