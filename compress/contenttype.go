package compress

import (
	"fmt"
	"strings"
)

// Compressible reports whether a response of the given Content-Type is worth
// compressing. It is the default rule of [New] (see [WithContentTypes] and
// [WithCompressible] to replace it); parameters and case are ignored.
//
// It says no for formats that are already compressed, where a second pass
// costs CPU and gains nothing: images other than SVG, BMP and icons; audio
// and video (application/ogg too); WOFF fonts; archives and compressed files
// (zip, gzip, zstd, bzip2, xz, 7z, rar, lz4, jar, apk, and the zip-based
// office and epub formats, including any "+zip", "+gzip" or "+zstd" suffix). Everything else,
// including an empty or unknown type, is compressible: text, JSON, XML,
// JavaScript, SVG, fonts such as TTF, and application/octet-stream (a body
// whose whole length is known is sent as it is anyway when compression does
// not make it smaller).
func Compressible(contentType string) bool {
	mt := mediaType(contentType)
	top, sub, _ := strings.Cut(mt, "/")
	switch top {
	case "image":
		switch sub {
		case "svg+xml", "bmp", "x-ms-bmp", "x-icon", "vnd.microsoft.icon":
			return true
		}
		return false
	case "video", "audio":
		return false
	case "font":
		return sub != "woff" && sub != "woff2"
	case "application":
		return !compressedApplication(sub)
	}
	return true
}

// compressedApplication reports whether application/sub is a compressed
// format.
func compressedApplication(sub string) bool {
	switch sub {
	case "zip", "gzip", "x-gzip", "zstd", "x-zstd", "x-bzip", "x-bzip2", "x-xz",
		"x-7z-compressed", "x-rar-compressed", "vnd.rar", "x-lzip", "x-lzma",
		"x-lz4", "x-compress", "x-compressed", "x-zip-compressed", "x-brotli",
		"java-archive", "vnd.android.package-archive", "x-apple-diskimage",
		"vnd.ms-cab-compressed", "x-snappy-framed", "font-woff", "x-font-woff",
		"ogg":
		return true
	}
	return strings.HasSuffix(sub, "+zip") || strings.HasSuffix(sub, "+gzip") ||
		strings.HasSuffix(sub, "+zstd") ||
		strings.HasPrefix(sub, "vnd.openxmlformats-officedocument.") ||
		strings.HasPrefix(sub, "vnd.oasis.opendocument.")
}

// mediaType returns the type/subtype part of a Content-Type value, trimmed
// and in lower case.
func mediaType(contentType string) string {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// typeMatcher matches media types against the patterns of
// [WithContentTypes].
type typeMatcher struct {
	exact []string // "text/html"
	tops  []string // "text" for "text/*"
	all   bool     // "*/*"
}

// newTypeMatcher checks and compiles the patterns of [WithContentTypes].
func newTypeMatcher(patterns []string) (*typeMatcher, error) {
	if len(patterns) == 0 {
		return nil, fmt.Errorf("%w: empty content type list", ErrInvalidOption)
	}
	m := &typeMatcher{}
	for _, p := range patterns {
		top, sub, ok := strings.Cut(strings.ToLower(strings.TrimSpace(p)), "/")
		if !ok || !isToken(top) || !isToken(sub) || (top == "*" && sub != "*") {
			return nil, fmt.Errorf("%w: content type pattern %q", ErrInvalidOption, p)
		}
		switch {
		case top == "*":
			m.all = true
		case sub == "*":
			m.tops = append(m.tops, top)
		default:
			m.exact = append(m.exact, top+"/"+sub)
		}
	}
	return m, nil
}

// match reports whether contentType matches one of the patterns.
func (m *typeMatcher) match(contentType string) bool {
	if m.all {
		return true
	}
	mt := mediaType(contentType)
	for _, e := range m.exact {
		if mt == e {
			return true
		}
	}
	top, _, ok := strings.Cut(mt, "/")
	if !ok {
		return false
	}
	for _, t := range m.tops {
		if top == t {
			return true
		}
	}
	return false
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// isTokenChar reports whether c is an RFC 9110 tchar.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
