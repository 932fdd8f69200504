package compress

import "strings"

// Negotiate returns the content coding, among supported, that an
// Accept-Encoding field value prefers, or "" when the client accepts none
// of them. supported is in the server's order of preference, which breaks
// ties between codings of equal weight. It does not allocate when supported
// has at most 8 entries, and it never fails: it is safe on any client input.
//
// The field is read as RFC 9110 §12.5.3 says:
//   - coding names and the q parameter name are case-insensitive, and
//     "x-gzip" means "gzip";
//   - a coding's weight is its q value (default 1), and q=0 means "not
//     acceptable";
//   - "*" gives its weight to every coding the field does not name;
//   - "identity" is acceptable unless refused by "identity;q=0", or by
//     "*;q=0" without an entry for identity; when not named it ranks below
//     every coding the client named, so it is chosen only when nothing else
//     is acceptable;
//   - an empty field (or no field: pass "") accepts only identity.
//
// Where the RFC says nothing, Negotiate chooses the cautious reading: an
// element that is not well formed (a bad coding name, a q value outside the
// RFC's grammar such as "q=2", "q=0.5000" or "q=abc") is ignored as a whole;
// and a coding named more than once gets its lowest weight, so a coding
// refused anywhere in the field is never chosen.
func Negotiate(acceptEncoding string, supported []string) string {
	var qbuf [8]int
	qs := qbuf[:0]
	if len(supported) <= len(qbuf) {
		qs = qbuf[:len(supported)]
	} else {
		qs = make([]int, len(supported))
	}
	for i := range qs {
		qs[i] = -1 // not named
	}
	star := -1
	for rest := acceptEncoding; rest != ""; {
		var elem string
		elem, rest, _ = strings.Cut(rest, ",")
		name, q, ok := parseCoding(elem)
		if !ok {
			continue
		}
		if name == "*" {
			star = lowerQ(star, q)
			continue
		}
		gzip := isGzipName(name)
		for i, s := range supported {
			// "x-gzip" is "gzip" (RFC 9110 §8.4.1.3), on either side.
			if strings.EqualFold(name, s) || (gzip && isGzipName(s)) {
				qs[i] = lowerQ(qs[i], q)
			}
		}
	}
	// Weights are compared doubled, in thousandths, so that identity's
	// implicit weight, 1, sits below the lowest one a client can name, 2.
	best, bestW := "", 0
	for i, s := range supported {
		w := 2 * qs[i]
		if qs[i] < 0 {
			switch {
			case star >= 0:
				w = 2 * star
			case strings.EqualFold(s, "identity"):
				w = 1
			default:
				w = 0
			}
		}
		if w > bestW {
			best, bestW = s, w
		}
	}
	return best
}

// lowerQ combines two weights of the same coding; -1 means "not named".
func lowerQ(old, q int) int {
	if old < 0 || q < old {
		return q
	}
	return old
}

// isGzipName reports whether s is "gzip" or "x-gzip", in any case.
func isGzipName(s string) bool {
	return strings.EqualFold(s, "gzip") || strings.EqualFold(s, "x-gzip")
}

// parseCoding parses one element of Accept-Encoding,
// coding *( OWS ";" OWS parameter ), into the coding name and its weight in
// thousandths. ok is false for an empty or malformed element.
func parseCoding(elem string) (name string, q int, ok bool) {
	name, params, _ := strings.Cut(elem, ";")
	name = trimOWS(name)
	if !isToken(name) {
		return "", 0, false
	}
	q = 1000
	seenQ := false
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		key, val, hasVal := strings.Cut(p, "=")
		key = trimOWS(key)
		if !strings.EqualFold(key, "q") {
			continue // another parameter: allowed, meaningless here
		}
		if seenQ || !hasVal {
			return "", 0, false
		}
		seenQ = true
		if q, ok = parseQ(trimOWS(val)); !ok {
			return "", 0, false
		}
	}
	return name, q, true
}

// parseQ parses an RFC 9110 qvalue, ( "0" [ "." 0*3DIGIT ] ) /
// ( "1" [ "." 0*3("0") ] ), into thousandths.
func parseQ(s string) (int, bool) {
	if s == "" || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	q := int(s[0]-'0') * 1000
	if len(s) == 1 {
		return q, true
	}
	if s[1] != '.' {
		return 0, false
	}
	scale := 100
	for i := 2; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' || (q == 1000 && c != '0') {
			return 0, false
		}
		q += int(c-'0') * scale
		scale /= 10
	}
	return q, true
}

// trimOWS trims RFC 9110 optional whitespace (spaces and tabs).
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
