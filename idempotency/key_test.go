package idempotency_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lifeline-go/lifeline/idempotency"
)

func TestParseKey(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    string
		wantErr string // substring of the error; "" for success
	}{
		{name: "draft sf-string", value: `"8e03978e-40d5-43e8-bc93-6894a57f9324"`, want: "8e03978e-40d5-43e8-bc93-6894a57f9324"},
		{name: "stripe bare key", value: "8e03978e-40d5-43e8-bc93-6894a57f9324", want: "8e03978e-40d5-43e8-bc93-6894a57f9324"},
		{name: "surrounding OWS", value: " \t\"abc\"\t ", want: "abc"},
		{name: "bare with OWS", value: "  abc  ", want: "abc"},
		{name: "quoted space", value: `"a b"`, want: "a b"},
		{name: "escapes", value: `"a\"b\\c"`, want: `a"b\c`},
		{name: "escape only", value: `"\""`, want: `"`},
		{name: "bare punctuation", value: "a:b/c=d+e", want: "a:b/c=d+e"},
		{name: "bare with inner quote", value: `ab"c`, want: `ab"c`},
		{name: "single char", value: "x", want: "x"},
		{name: "255 bytes bare", value: strings.Repeat("k", 255), want: strings.Repeat("k", 255)},
		{name: "255 bytes quoted", value: `"` + strings.Repeat("k", 255) + `"`, want: strings.Repeat("k", 255)},
		{name: "255 bytes after unescaping", value: `"` + strings.Repeat(`\\`, 255) + `"`, want: strings.Repeat(`\`, 255)},

		{name: "empty", value: "", wantErr: "empty"},
		{name: "only spaces", value: "   ", wantErr: "empty"},
		{name: "empty quoted", value: `""`, wantErr: "quoted string is empty"},
		{name: "256 bytes bare", value: strings.Repeat("k", 256), wantErr: "256 bytes long, the limit is 255"},
		{name: "256 bytes quoted", value: `"` + strings.Repeat("k", 256) + `"`, wantErr: "256 bytes long"},
		{name: "bare space", value: "a b", wantErr: "byte 0x20 at offset 1 is not visible ASCII"},
		{name: "bare control", value: "a\x01", wantErr: "byte 0x01 at offset 1"},
		{name: "bare DEL", value: "a\x7f", wantErr: "byte 0x7f"},
		{name: "bare UTF-8", value: "clé", wantErr: "byte 0xc3 at offset 2"},
		{name: "unterminated", value: `"abc`, wantErr: "missing closing quote"},
		{name: "lone quote", value: `"`, wantErr: "missing closing quote"},
		{name: "dangling escape", value: `"abc\`, wantErr: "unterminated escape"},
		{name: "bad escape", value: `"a\nb"`, wantErr: `invalid escape \n at offset 2`},
		{name: "quoted control", value: "\"a\tb\"", wantErr: "byte 0x09 at offset 2 is not printable ASCII"},
		{name: "quoted UTF-8", value: `"clé"`, wantErr: "byte 0xc3"},
		{name: "parameters", value: `"abc";v=1`, wantErr: `unexpected ";v=1" after the closing quote`},
		{name: "list", value: `"a", "b"`, wantErr: "after the closing quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := idempotency.ParseKey(tt.value)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("ParseKey(%q) = %q, %v; want %q, nil", tt.value, got, err, tt.want)
				}
				return
			}
			if err == nil || !errors.Is(err, idempotency.ErrInvalidKey) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseKey(%q) = %q, %v; want an ErrInvalidKey error containing %q", tt.value, got, err, tt.wantErr)
			}
		})
	}
}

// FuzzParseKey checks, for any header value, that ParseKey either rejects
// it with ErrInvalidKey or returns a key within the documented limits that
// parses back to itself when sent in either form, and that the middleware
// answers 400 for exactly the values ParseKey rejects.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{
		`"8e03978e-40d5-43e8-bc93-6894a57f9324"`, "abc", `"a\"b\\c"`, `"abc`, `"abc";x`, " \t", `""`, "a b", `"\`,
	} {
		f.Add(s)
	}
	// The same value through the middleware's header handling: 400 exactly
	// when ParseKey rejects it, else the handler's answer or its replay.
	m, err := idempotency.New(newMem(f))
	if err != nil {
		f.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))
	f.Fuzz(func(t *testing.T, value string) {
		key, err := idempotency.ParseKey(value)
		r := httptest.NewRequest("POST", "/orders", nil)
		r.Header["Idempotency-Key"] = []string{value}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if wantCode := map[bool]int{true: 400, false: 201}[err != nil]; w.Code != wantCode {
			t.Fatalf("Idempotency-Key: %q answered %d, want %d (ParseKey error: %v)", value, w.Code, wantCode, err)
		}
		if err != nil {
			if !errors.Is(err, idempotency.ErrInvalidKey) {
				t.Fatalf("ParseKey(%q) error %v does not match ErrInvalidKey", value, err)
			}
			if !utf8.ValidString(err.Error()) && utf8.ValidString(value) {
				t.Fatalf("ParseKey(%q): error message is not valid UTF-8: %q", value, err)
			}
			return
		}
		if len(key) < 1 || len(key) > idempotency.MaxKeyLen {
			t.Fatalf("ParseKey(%q) = %q: length %d out of 1..%d", value, key, len(key), idempotency.MaxKeyLen)
		}
		for i := 0; i < len(key); i++ {
			if key[i] < 0x20 || key[i] > 0x7e {
				t.Fatalf("ParseKey(%q) = %q: byte 0x%02x is not printable ASCII", value, key, key[i])
			}
		}
		quoted := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(key) + `"`
		if again, err := idempotency.ParseKey(quoted); err != nil || again != key {
			t.Fatalf("ParseKey(%q) = %q, %v; want %q (the quoted form of ParseKey(%q))", quoted, again, err, key, value)
		}
		if !strings.Contains(key, " ") && key[0] != '"' {
			if again, err := idempotency.ParseKey(key); err != nil || again != key {
				t.Fatalf("ParseKey(%q) = %q, %v; want the bare key back", key, again, err)
			}
		}
	})
}
