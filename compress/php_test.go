package compress

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lifeline-go/lifeline/output"
)

// Ports of PHP's zlib output compression cases (PHP-SEMANTICS.md §10
// item 38 and §11 E16). PHP compresses even a 3-byte body; Lifeline leaves
// a body alone when it is under WithMinSize or does not get smaller, so the
// ports use a body that compresses.
var phpBody = []byte(strings.Repeat("foo\n", 1000))

// TestPHPBug51269 ports ext/zlib/tests/bug51269.phpt
// (zlib.output_compression overwrites Vary): with
// header('Vary: Cookie'); echo 'foo'; the response carries
// "Vary: Cookie", "Content-Encoding: gzip" and a second
// "Vary: Accept-Encoding".
func TestPHPBug51269(t *testing.T) {
	h, st := newTestHandler(t, "gzip")
	st.header.Set("Vary", "Cookie")
	out, err := h.Handle(phpBody, start|final)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if got, want := st.header.Values("Vary"), []string{"Cookie", "Accept-Encoding"}; !slices.Equal(got, want) {
		t.Errorf("Vary = %q, want %q", got, want)
	}
	if got := st.header.Get("Content-Encoding"); got != "gzip" {
		t.Errorf("Content-Encoding = %q, want gzip", got)
	}
	if !bytes.Equal(decode(t, encGzip, out), phpBody) {
		t.Error("decoded body differs")
	}
}

// TestPHPOb005 ports ext/zlib/tests/ob_005.phpt: ob_start("ob_gzhandler"),
// then compression is switched off for this response before any output
// (ini_set("zlib.output_compression", 0)); the body goes out plain, with no
// compression header. Lifeline has no ini: the code switches compression
// off by setting Content-Encoding, here to nil so that no such header is
// sent at all.
func TestPHPOb005(t *testing.T) {
	h, st := newTestHandler(t, "gzip")
	st.header["Content-Encoding"] = nil
	out, err := h.Handle(phpBody, start|final)
	if !errors.Is(err, output.ErrDecline) || out != nil {
		t.Fatalf("Handle = %d bytes, %v; want ErrDecline (raw body passes)", len(out), err)
	}
	if got := st.header.Get("Content-Encoding"); got != "" {
		t.Errorf("Content-Encoding = %q, want none", got)
	}
	if got := st.header.Values("Vary"); len(got) != 0 {
		t.Errorf("Vary = %q, want none", got)
	}
}

// TestPHPE16 ports §11 E16 (php-cgi, ob_start("ob_gzhandler")):
//   - with Accept-Encoding: gzip: gzip body, Content-Encoding and Vary;
//   - without: plain body, and still Vary;
//   - with header("Content-Length: N") (N the plain length): PHP switches
//     compression off (plain, no Vary, the code's Content-Length kept).
//     Lifeline deliberately differs: it compresses and replaces the length
//     with the exact compressed one, which is what makes the early answer
//     of the seed recipe both compressed and correct.
func TestPHPE16(t *testing.T) {
	tests := []struct {
		name       string
		ae         string
		userLength bool
		wantEnc    string // "" for a plain body
	}{
		{name: "gzip accepted", ae: "gzip", wantEnc: "gzip"},
		{name: "nothing accepted", ae: "", wantEnc: ""},
		{name: "user Content-Length", ae: "gzip", userLength: true, wantEnc: "gzip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, st := newTestHandler(t, tt.ae)
			if tt.userLength {
				st.header.Set("Content-Length", strconv.Itoa(len(phpBody)))
			}
			out, err := h.Handle(phpBody, start|final)
			if tt.wantEnc == "" {
				if !errors.Is(err, output.ErrDecline) {
					t.Fatalf("Handle = %d bytes, %v; want ErrDecline", len(out), err)
				}
			} else {
				if err != nil {
					t.Fatalf("Handle: %v", err)
				}
				if !bytes.Equal(decode(t, tt.wantEnc, out), phpBody) {
					t.Error("decoded body differs")
				}
				if got, want := st.header.Get("Content-Length"), strconv.Itoa(len(out)); got != want {
					t.Errorf("Content-Length = %s, want the compressed length %s", got, want)
				}
			}
			if got := st.header.Get("Content-Encoding"); got != tt.wantEnc {
				t.Errorf("Content-Encoding = %q, want %q", got, tt.wantEnc)
			}
			if got := st.header.Get("Vary"); got != "Accept-Encoding" {
				t.Errorf("Vary = %q, want Accept-Encoding", got)
			}
		})
	}
}
