package compress_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/lifeline-go/lifeline/compress"
)

var serverOrder = []string{"zstd", "br", "gzip"}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		ae        string
		supported []string // serverOrder if nil
		want      string
	}{
		{ae: "", want: ""},
		{ae: "gzip", want: "gzip"},
		{ae: "gzip, deflate, br", want: "br"},
		{ae: "gzip, deflate, br, zstd", want: "zstd"},
		{ae: "GZIP", want: "gzip"},
		{ae: "  gzip\t,\tbr  ", want: "br"},
		{ae: "x-gzip", want: "gzip"},
		{ae: "X-GZIP;Q=0.5", want: "gzip"},
		{ae: "identity", want: ""},
		{ae: "deflate, compress", want: ""},
		// q-values: the client's weights come before the server's order.
		{ae: "zstd;q=0.5, br;q=0.8, gzip", want: "gzip"},
		{ae: "zstd;q=0.5, br;q=0.8, gzip;q=0.1", want: "br"},
		{ae: "gzip;q=1.0, br;q=0.999", want: "gzip"},
		{ae: "gzip;q=0.001", want: "gzip"},
		{ae: "gzip ; q=0.5", want: "gzip"},
		{ae: "gzip;q=0", want: ""},
		{ae: "gzip;q=0.000", want: ""},
		{ae: "br;q=0, gzip;q=0.5", want: "gzip"},
		// Equal weights: the server's order.
		{ae: "gzip;q=0.7, br;q=0.7", want: "br"},
		{ae: "gzip, br", supported: []string{"gzip", "br"}, want: "gzip"},
		// "*" covers every coding not named.
		{ae: "*", want: "zstd"},
		{ae: "*;q=0", want: ""},
		{ae: "*, zstd;q=0", want: "br"},
		{ae: "*;q=0.5, gzip", want: "gzip"},
		{ae: "gzip;q=0, *", want: "zstd"},
		{ae: "*;q=0, gzip;q=0.2", want: "gzip"},
		// identity, when the server offers it.
		{ae: "", supported: []string{"gzip", "identity"}, want: "identity"},
		{ae: "gzip", supported: []string{"identity", "gzip"}, want: "gzip"},
		{ae: "gzip;q=0.001", supported: []string{"identity", "gzip"}, want: "gzip"},
		{ae: "gzip;q=0", supported: []string{"gzip", "identity"}, want: "identity"},
		{ae: "identity;q=0", supported: []string{"gzip", "identity"}, want: ""},
		{ae: "*;q=0", supported: []string{"gzip", "identity"}, want: ""},
		{ae: "*;q=0, identity", supported: []string{"gzip", "identity"}, want: "identity"},
		{ae: "identity, gzip;q=0.5", supported: []string{"gzip", "identity"}, want: "identity"},
		// Malformed elements are ignored as a whole.
		{ae: "gzip;q=abc", want: ""},
		{ae: "gzip;q=2", want: ""},
		{ae: "gzip;q=1.5", want: ""},
		{ae: "gzip;q=1.001", want: ""},
		{ae: "gzip;q=0.5000", want: ""},
		{ae: "gzip;q=-1", want: ""},
		{ae: "gzip;q=", want: ""},
		{ae: "gzip;q", want: ""},
		{ae: "gzip;q=.5", want: ""},
		{ae: "gzip;q=0.5;q=1", want: ""},
		{ae: "gzip;q=abc, br", want: "br"},
		{ae: "gz ip, br", want: "br"},
		{ae: "gzip;level=9", want: "gzip"},
		{ae: ",,gzip,,", want: "gzip"},
		{ae: ";q=1, gzip", want: "gzip"},
		// A coding named twice gets its lowest weight.
		{ae: "gzip, gzip;q=0", want: ""},
		{ae: "gzip;q=0, x-gzip", want: ""},
		{ae: "br;q=0.2, br;q=0.9, gzip;q=0.5", want: "gzip"},
		// Server lists longer than the allocation-free fast path.
		{ae: "i", supported: []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"}, want: "i"},
	}
	for _, tt := range tests {
		supported := tt.supported
		if supported == nil {
			supported = serverOrder
		}
		if got := compress.Negotiate(tt.ae, supported); got != tt.want {
			t.Errorf("Negotiate(%q, %q) = %q, want %q", tt.ae, supported, got, tt.want)
		}
	}
}

func TestNegotiateAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		compress.Negotiate("gzip;q=0.8, deflate, br;q=0.9, zstd;q=0.1, *;q=0", serverOrder)
	})
	if allocs != 0 {
		t.Errorf("Negotiate allocates %.0f times per call, want 0", allocs)
	}
}

// FuzzNegotiate checks that Negotiate never panics, returns one of the
// supported codings or "", and respects a refusal: appending
// "<result>;q=0" to the field must change the result.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"", "gzip", "gzip, deflate, br", "br;q=0.9, gzip;q=0.8, *;q=0.1",
		"identity;q=0", "*;q=0", "x-gzip", "GZIP;Q=1.000", "gzip;q=0.5000", "gzip;q=abc",
		" , ;;= ,", "zstd;q=0, *", "identity, *;q=0"} {
		f.Add(s, "zstd,br,gzip")
		f.Add(s, "gzip,identity")
	}
	f.Fuzz(func(t *testing.T, ae, list string) {
		supported := strings.Split(list, ",")
		got := compress.Negotiate(ae, supported)
		if got == "" {
			return
		}
		if !slices.Contains(supported, got) {
			t.Fatalf("Negotiate(%q, %q) = %q, not supported", ae, supported, got)
		}
		if !isToken(got) || got == "*" {
			return // not a coding name a client can refuse
		}
		refused := ae + "," + got + ";q=0"
		if again := compress.Negotiate(refused, supported); strings.EqualFold(again, got) ||
			(isGzip(again) && isGzip(got)) {
			t.Fatalf("Negotiate(%q, %q) = %q, a coding the client refused", refused, supported, again)
		}
	})
}

// isToken reports whether s is an RFC 9110 token, a name a client can use.
func isToken(s string) bool {
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return s != ""
}

func isGzip(s string) bool { return strings.EqualFold(s, "gzip") || strings.EqualFold(s, "x-gzip") }
