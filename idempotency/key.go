package idempotency

import (
	"fmt"
	"strings"
)

// MaxKeyLen is the longest key [ParseKey] accepts, in bytes after unquoting.
const MaxKeyLen = 255

// ParseKey returns the key carried by one Idempotency-Key field value, or an
// error matching [ErrInvalidKey] whose message says what is wrong.
//
// Two forms are accepted:
//
//   - the form of the IETF draft (draft-ietf-httpapi-idempotency-key-header),
//     a Structured Field String (RFC 8941 sf-string) such as
//     "8e03978e-40d5-43e8-bc93-6894a57f9324" with the quotes: the key is the
//     text between the quotes, with the escapes \" and \\ resolved; it may
//     hold any printable ASCII character (0x20-0x7E), space included;
//   - a bare key, as Stripe's clients send it: visible ASCII (0x21-0x7E), no
//     spaces. A value that starts with a double quote is always read as an
//     sf-string.
//
// Spaces and tabs around the value are ignored. The key must be 1 to
// [MaxKeyLen] bytes long. Both forms of one key are the same key: "abc" (with
// the quotes) and abc name one request. Structured-field parameters after
// the closing quote are rejected: the draft defines none.
func ParseKey(value string) (string, error) {
	v := strings.Trim(value, " \t")
	if v == "" {
		return "", fmt.Errorf("%w: the value is empty", ErrInvalidKey)
	}
	if v[0] == '"' {
		return parseQuoted(v)
	}
	if len(v) > MaxKeyLen {
		return "", fmt.Errorf("%w: %d bytes long, the limit is %d", ErrInvalidKey, len(v), MaxKeyLen)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x21 || c > 0x7e {
			return "", fmt.Errorf("%w: byte 0x%02x at offset %d is not visible ASCII (quote the key as an sf-string to use spaces)", ErrInvalidKey, c, i)
		}
	}
	return v, nil
}

// parseQuoted parses an sf-string (RFC 8941 section 4.2.5) that makes up
// the whole of v. v starts with '"'.
func parseQuoted(v string) (string, error) {
	var b *strings.Builder // only allocated when an escape is found
	start := 1
	for i := 1; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\':
			if i+1 >= len(v) {
				return "", fmt.Errorf("%w: unterminated escape at offset %d", ErrInvalidKey, i)
			}
			next := v[i+1]
			if next != '"' && next != '\\' {
				return "", fmt.Errorf("%w: invalid escape \\%c at offset %d (only \\\" and \\\\ are allowed)", ErrInvalidKey, printable(next), i)
			}
			if b == nil {
				b = new(strings.Builder)
				b.Grow(len(v))
			}
			b.WriteString(v[start:i])
			b.WriteByte(next)
			i++
			start = i + 1
		case c == '"':
			if i != len(v)-1 {
				return "", fmt.Errorf("%w: unexpected %q after the closing quote at offset %d (parameters are not supported)", ErrInvalidKey, v[i+1:], i)
			}
			key := v[start:i]
			if b != nil {
				b.WriteString(key)
				key = b.String()
			}
			return checkQuotedLen(key)
		case c < 0x20 || c > 0x7e:
			return "", fmt.Errorf("%w: byte 0x%02x at offset %d is not printable ASCII", ErrInvalidKey, c, i)
		}
	}
	return "", fmt.Errorf("%w: missing closing quote", ErrInvalidKey)
}

func checkQuotedLen(key string) (string, error) {
	switch {
	case key == "":
		return "", fmt.Errorf("%w: the quoted string is empty", ErrInvalidKey)
	case len(key) > MaxKeyLen:
		return "", fmt.Errorf("%w: %d bytes long, the limit is %d", ErrInvalidKey, len(key), MaxKeyLen)
	}
	return key, nil
}

// printable returns c, or '?' when c would garble an error message.
func printable(c byte) rune {
	if c < 0x20 || c > 0x7e {
		return '?'
	}
	return rune(c)
}
