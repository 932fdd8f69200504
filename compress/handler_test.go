package compress

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/lifeline-go/lifeline/output"
)

const (
	start = output.OpStart
	clean = output.OpClean
	flush = output.OpFlush
	final = output.OpFinal
)

// call is one call of a handler: the buffer it gets and the phase.
type call struct {
	buf   string
	phase output.Op
}

// runCalls feeds calls to h and returns the concatenated output.
func runCalls(t *testing.T, h *handler, calls []call) []byte {
	t.Helper()
	var out []byte
	for i, c := range calls {
		b, err := h.Handle([]byte(c.buf), c.phase)
		if err != nil {
			t.Fatalf("call %d Handle(%d bytes, %v): %v", i, len(c.buf), c.phase, err)
		}
		out = append(out, b...)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	html := string(htmlPage(64 << 10))
	json := string(jsonDoc(300 << 10))
	tests := []struct {
		name      string
		calls     []call
		wholeBody bool // Content-Length expected
	}{
		{name: "whole html", calls: []call{{html, start | final}}, wholeBody: true},
		{name: "whole json", calls: []call{{json, start | final}}, wholeBody: true},
		{name: "whole min size", calls: []call{{html[:DefaultMinSize], start | final}}, wholeBody: true},
		{name: "flushes", calls: []call{{html[:1000], start | flush}, {html[1000:30000], flush}, {html[30000:], final}}},
		{name: "chunk writes", calls: []call{{json[:4096], start}, {json[4096:200000], 0}, {json[200000:], 0}, {"", final}}},
		{name: "empty flushes", calls: []call{{html[:5000], start | flush}, {"", flush}, {"", flush}, {html[5000:], final}}},
	}
	for _, enc := range allEncodings {
		for _, tt := range tests {
			t.Run(enc+"/"+tt.name, func(t *testing.T) {
				h, st := newTestHandler(t, enc)
				st.header.Set("Content-Type", "text/html; charset=utf-8")
				out := runCalls(t, h, tt.calls)
				var want []byte
				for _, c := range tt.calls {
					want = append(want, c.buf...)
				}
				if got := decode(t, enc, out); !bytes.Equal(got, want) {
					t.Fatalf("decoded %d bytes, want the %d bytes written", len(got), len(want))
				}
				if len(out) >= len(want) {
					t.Errorf("compressed %d bytes into %d", len(want), len(out))
				}
				if got := st.header.Get("Content-Encoding"); got != enc {
					t.Errorf("Content-Encoding = %q, want %q", got, enc)
				}
				if got := st.header.Values("Vary"); !slices.Equal(got, []string{"Accept-Encoding"}) {
					t.Errorf("Vary = %q, want [Accept-Encoding]", got)
				}
				cl := st.header.Get("Content-Length")
				if tt.wholeBody && cl != strconv.Itoa(len(out)) {
					t.Errorf("Content-Length = %q, want %d (the compressed length)", cl, len(out))
				}
				if !tt.wholeBody && cl != "" {
					t.Errorf("Content-Length = %q in a streamed response", cl)
				}
				if h.enc != nil {
					t.Error("encoder not returned to its pool at the end")
				}
			})
		}
	}
}

// TestContentLengthReplaced is the seed recipe "close connection early":
// the code sets Content-Length to the uncompressed length (ob_get_length)
// and ends its buffer; in PHP that switches compression off (E16), in
// Lifeline the length is corrected to the compressed one.
func TestContentLengthReplaced(t *testing.T) {
	body := htmlPage(8 << 10)
	for _, enc := range allEncodings {
		t.Run(enc, func(t *testing.T) {
			h, st := newTestHandler(t, "gzip, br, zstd", WithEncodings(enc))
			st.header.Set("Content-Length", strconv.Itoa(len(body)))
			st.header.Set("Connection", "close")
			out, err := h.Handle(body, start|final)
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if got, want := st.header.Get("Content-Length"), strconv.Itoa(len(out)); got != want {
				t.Errorf("Content-Length = %s, want %s (compressed; uncompressed is %d)", got, want, len(body))
			}
			if got := decode(t, enc, out); !bytes.Equal(got, body) {
				t.Error("decoded body differs")
			}
		})
	}
}

// TestSkipRules checks each reason to leave a response uncompressed.
func TestSkipRules(t *testing.T) {
	html := htmlPage(4 << 10)
	png := append([]byte("\x89PNG\r\n\x1a\n"), randomBytes(4<<10)...)
	tests := []struct {
		name     string
		ae       string // Accept-Encoding, "gzip" if empty
		method   string
		setup    func(*fakeResponse)
		body     []byte
		phase    output.Op
		wantVary bool
		wantCT   string // Content-Type after the call, if not ""
	}{
		{name: "headers sent", setup: func(f *fakeResponse) { f.sent = true }},
		{name: "HEAD", method: http.MethodHead},
		{name: "status 101", setup: func(f *fakeResponse) { f.code = http.StatusSwitchingProtocols }},
		{name: "status 204", setup: func(f *fakeResponse) { f.code = http.StatusNoContent }},
		{name: "status 304", setup: func(f *fakeResponse) { f.code = http.StatusNotModified }},
		{name: "status 206", setup: func(f *fakeResponse) { f.code = http.StatusPartialContent }},
		{name: "Content-Range", setup: func(f *fakeResponse) { f.header.Set("Content-Range", "bytes 0-99/4096") }},
		{name: "Content-Encoding gzip", setup: func(f *fakeResponse) { f.header.Set("Content-Encoding", "gzip") }},
		{name: "Content-Encoding none", setup: func(f *fakeResponse) { f.header.Set("Content-Encoding", "none") }},
		{name: "Content-Encoding nil", setup: func(f *fakeResponse) { f.header["Content-Encoding"] = nil }},
		{name: "image/png", setup: ct("image/png")},
		{name: "image/jpeg streaming", setup: ct("image/jpeg"), phase: start | flush},
		{name: "video/mp4", setup: ct("video/mp4")},
		{name: "audio/mpeg", setup: ct("audio/mpeg")},
		{name: "application/zip", setup: ct("application/zip")},
		{name: "application/gzip", setup: ct("application/gzip")},
		{name: "font/woff2", setup: ct("font/woff2")},
		{name: "sniffed png", body: png, wantCT: "image/png"},
		{name: "below min size", body: html[:DefaultMinSize-1]},
		{name: "empty body", body: []byte{}},
		{name: "not smaller", setup: ct("application/octet-stream"), body: randomBytes(8 << 10)},
		{name: "no accepted encoding", ae: "identity", wantVary: true},
		{name: "gzip refused", ae: "gzip;q=0, deflate", wantVary: true},
		{name: "no accepted encoding streaming", ae: "compress", phase: start | flush, wantVary: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ae := tt.ae
			if ae == "" {
				ae = "gzip"
			}
			c, err := New()
			if err != nil {
				t.Fatal(err)
			}
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			r, _ := http.NewRequest(method, "/", nil)
			r.Header.Set("Accept-Encoding", ae)
			st := newFakeResponse()
			st.header.Set("Content-Type", "text/html")
			if tt.wantCT != "" {
				st.header.Del("Content-Type")
			}
			if tt.setup != nil {
				tt.setup(st)
			}
			body := tt.body
			if body == nil {
				body = html
			}
			phase := tt.phase
			if phase == 0 {
				phase = start | final
			}
			h := c.newHandler(st, r)
			out, err := h.Handle(body, phase)
			if !errors.Is(err, output.ErrDecline) {
				t.Fatalf("Handle = %d bytes, %v; want ErrDecline", len(out), err)
			}
			if got := st.header.Get("Content-Encoding"); got != "" && got != "gzip" && got != "none" {
				t.Errorf("Content-Encoding = %q", got)
			}
			if tt.name != "Content-Encoding gzip" && st.header.Get("Content-Encoding") == "gzip" {
				t.Error("Content-Encoding set on a declined response")
			}
			if got := st.header.Get("Vary") != ""; got != tt.wantVary {
				t.Errorf("Vary set = %v, want %v (Vary %q)", got, tt.wantVary, st.header.Values("Vary"))
			}
			if tt.wantCT != "" && st.header.Get("Content-Type") != tt.wantCT {
				t.Errorf("Content-Type = %q, want sniffed %q", st.header.Get("Content-Type"), tt.wantCT)
			}
		})
	}
}

func ct(v string) func(*fakeResponse) {
	return func(f *fakeResponse) { f.header.Set("Content-Type", v) }
}

func TestSniffCompressible(t *testing.T) {
	h, st := newTestHandler(t, "gzip")
	body := htmlPage(4 << 10)
	out, err := h.Handle(body, start|final)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if got := st.header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q, want the sniffed text/html; charset=utf-8", got)
	}
	if !bytes.Equal(decode(t, encGzip, out), body) {
		t.Error("decoded body differs")
	}
}

func TestVaryAndETag(t *testing.T) {
	tests := []struct {
		name      string
		vary      []string
		etag      string
		wantVary  []string
		wantETag  string
		wantRange bool
	}{
		{name: "none", wantVary: []string{"Accept-Encoding"}},
		// php bug51269: a Vary set by the code is kept, ours is added.
		{name: "Vary Cookie", vary: []string{"Cookie"}, wantVary: []string{"Cookie", "Accept-Encoding"}},
		{name: "listed", vary: []string{"Cookie, accept-encoding"}, wantVary: []string{"Cookie, accept-encoding"}},
		{name: "listed second line", vary: []string{"Origin", "Accept-Encoding"}, wantVary: []string{"Origin", "Accept-Encoding"}},
		{name: "star", vary: []string{"*"}, wantVary: []string{"*"}},
		{name: "strong ETag", etag: `"abc"`, wantETag: `W/"abc"`, wantVary: []string{"Accept-Encoding"}},
		{name: "weak ETag", etag: `W/"abc"`, wantETag: `W/"abc"`, wantVary: []string{"Accept-Encoding"}},
	}
	for _, mode := range []output.Op{start | final, start | flush} {
		for _, tt := range tests {
			t.Run(mode.String()+"/"+tt.name, func(t *testing.T) {
				h, st := newTestHandler(t, "gzip")
				st.header.Set("Content-Type", "text/html")
				st.header.Set("Accept-Ranges", "bytes")
				for _, v := range tt.vary {
					st.header.Add("Vary", v)
				}
				if tt.etag != "" {
					st.header.Set("ETag", tt.etag)
				}
				if _, err := h.Handle(htmlPage(4<<10), mode); err != nil {
					t.Fatalf("Handle: %v", err)
				}
				if got := st.header.Values("Vary"); !slices.Equal(got, tt.wantVary) {
					t.Errorf("Vary = %q, want %q", got, tt.wantVary)
				}
				if got := st.header.Get("ETag"); got != tt.wantETag {
					t.Errorf("ETag = %q, want %q", got, tt.wantETag)
				}
				if got := st.header.Get("Accept-Ranges"); got != "" {
					t.Errorf("Accept-Ranges = %q on a compressed response", got)
				}
			})
		}
	}
}

func TestName(t *testing.T) {
	tests := []struct{ ae, want string }{
		{"gzip", "compress gzip"},
		{"br;q=0.9, gzip;q=0.5", "compress br"},
		{"zstd", "compress zstd"},
		{"", "compress identity"},
	}
	for _, tt := range tests {
		h, _ := newTestHandler(t, tt.ae)
		if got := h.Name(); got != tt.want {
			t.Errorf("Accept-Encoding %q: Name() = %q, want %q", tt.ae, got, tt.want)
		}
	}
}

func TestMinSizeOption(t *testing.T) {
	body := []byte("<p>" + string(bytes.Repeat([]byte("hello "), 20)) + "</p>")
	h, _ := newTestHandler(t, "gzip", WithMinSize(0))
	if _, err := h.Handle(body, start|final); err != nil {
		t.Errorf("WithMinSize(0): %d-byte body: %v, want compressed", len(body), err)
	}
	h, _ = newTestHandler(t, "gzip", WithMinSize(len(body)+1))
	if _, err := h.Handle(body, start|final); !errors.Is(err, output.ErrDecline) {
		t.Errorf("WithMinSize(%d): %d-byte body: %v, want ErrDecline", len(body)+1, len(body), err)
	}
}
