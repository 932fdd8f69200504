package compress

import "testing"

func TestCompressible(t *testing.T) {
	tests := []struct {
		ct   string
		want bool
	}{
		{"", true},
		{"text/html", true},
		{"text/html; charset=utf-8", true},
		{" Text/HTML ;charset=UTF-8", true},
		{"text/event-stream", true},
		{"application/json", true},
		{"application/javascript", true},
		{"application/octet-stream", true},
		{"application/pdf", true},
		{"image/svg+xml", true},
		{"image/bmp", true},
		{"image/x-icon", true},
		{"font/ttf", true},
		{"image/png", false},
		{"image/jpeg", false},
		{"image/webp", false},
		{"IMAGE/AVIF", false},
		{"video/mp4", false},
		{"audio/mpeg", false},
		{"font/woff2", false},
		{"application/zip", false},
		{"application/gzip", false},
		{"application/x-gzip", false},
		{"application/zstd", false},
		{"application/x-7z-compressed", false},
		{"application/vnd.rar", false},
		{"application/java-archive", false},
		{"application/epub+zip", false},
		{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", false},
		{"application/vnd.oasis.opendocument.text", false},
		{"application/ogg", false},
		{"application/tlsrpt+gzip", false},
	}
	for _, tt := range tests {
		if got := Compressible(tt.ct); got != tt.want {
			t.Errorf("Compressible(%q) = %v, want %v", tt.ct, got, tt.want)
		}
	}
}

func TestContentTypesMatcher(t *testing.T) {
	m, err := newTypeMatcher([]string{"text/*", "Application/JSON", "image/svg+xml"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ct   string
		want bool
	}{
		{"text/html", true},
		{"text/plain; charset=utf-8", true},
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"IMAGE/SVG+XML", true},
		{"application/javascript", false},
		{"image/png", false},
		{"", false},
		{"text", false},
	}
	for _, tt := range tests {
		if got := m.match(tt.ct); got != tt.want {
			t.Errorf("match(%q) = %v, want %v", tt.ct, got, tt.want)
		}
	}
	all, err := newTypeMatcher([]string{"*/*"})
	if err != nil {
		t.Fatal(err)
	}
	if !all.match("") || !all.match("image/png") {
		t.Error(`"*/*" does not match everything`)
	}
}

func TestTypeOptionsInHandler(t *testing.T) {
	body := htmlPage(4 << 10)
	tests := []struct {
		name string
		opt  Option
		ct   string
		want bool // compressed
	}{
		{name: "list allows", opt: WithContentTypes("text/html"), ct: "text/html", want: true},
		{name: "list refuses", opt: WithContentTypes("application/json"), ct: "text/html", want: false},
		{name: "list overrides default", opt: WithContentTypes("image/*"), ct: "image/png", want: true},
		{name: "predicate", opt: WithCompressible(func(ct string) bool { return ct == "x/y" }), ct: "x/y", want: true},
		{name: "predicate refuses", opt: WithCompressible(func(string) bool { return false }), ct: "text/html", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, st := newTestHandler(t, "gzip", tt.opt)
			st.header.Set("Content-Type", tt.ct)
			_, err := h.Handle(body, start|final)
			if got := err == nil; got != tt.want {
				t.Errorf("compressed = %v (err %v), want %v", got, err, tt.want)
			}
		})
	}
}
