package session

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestParseID(t *testing.T) {
	valid := newID()
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"issued", valid, true},
		{"all alphabet", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcd-_", true},
		{"empty", "", false},
		{"short", valid[:31], false},
		{"long", valid + "A", false},
		{"padding", valid[:30] + "==", false},
		{"std base64", valid[:31] + "+", false},
		{"slash", valid[:31] + "/", false},
		{"space", valid[:31] + " ", false},
		{"brace (Redis hash tag)", valid[:31] + "}", false},
		{"colon (key separator)", valid[:31] + ":", false},
		{"NUL", valid[:31] + "\x00", false},
		{"non-ASCII", valid[:30] + "é", false},
		{"PHP sid", "0123456789abcdef0123456789abcdefgh", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseID(tt.in)
			if tt.ok != (err == nil) {
				t.Fatalf("ParseID(%q) = %q, %v; want ok=%v", tt.in, got, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidID) {
				t.Errorf("ParseID(%q) error %v does not match ErrInvalidID", tt.in, err)
			}
			if err == nil && got != tt.in {
				t.Errorf("ParseID(%q) = %q, want it unchanged", tt.in, got)
			}
		})
	}
}

func TestNewIDUnique(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		id := newID()
		if _, err := ParseID(id); err != nil {
			t.Fatalf("newID() = %q fails ParseID: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("newID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestIDFromRequest(t *testing.T) {
	id1, id2 := newID(), newID()
	tests := []struct {
		name   string
		header string
		want   string
	}{
		{"none", "", ""},
		{"one", "lifeline_session=" + id1, id1},
		{"other cookies", "a=b; lifeline_session=" + id1 + "; c=d", id1},
		{"first valid wins", "lifeline_session=bad; lifeline_session=" + id1 + "; lifeline_session=" + id2, id1},
		{"quoted", `lifeline_session="` + id1 + `"`, id1},
		{"invalid only", "lifeline_session=../../etc/passwd", ""},
		{"other name", "PHPSESSID=" + id1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "/", nil)
			if tt.header != "" {
				r.Header.Set("Cookie", tt.header)
			}
			if got := idFromRequest(r, "lifeline_session"); got != tt.want {
				t.Errorf("idFromRequest(%q) = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	id := newID()
	fp := fingerprint(id)
	if len(fp) != 7 || fp[0] != '#' || strings.Contains(id, fp[1:]) {
		t.Errorf("fingerprint(%q) = %q, want # and 6 hex digits not taken from the id", id, fp)
	}
	if fingerprint(id) != fp {
		t.Error("fingerprint is not stable")
	}
}

// FuzzParseID checks that ParseID never panics and accepts exactly the
// issued form, so nothing else reaches a store.
func FuzzParseID(f *testing.F) {
	f.Add(newID())
	f.Add("")
	f.Add("{evil}:lock")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			return
		}
		if id != s || len(id) != idLen {
			t.Fatalf("ParseID(%q) = %q", s, id)
		}
		for i := 0; i < len(id); i++ {
			if !isIDByte(id[i]) {
				t.Fatalf("ParseID accepted %q with byte %#x", s, id[i])
			}
		}
	})
}

// FuzzIDFromCookie feeds arbitrary Cookie headers to the Manager's cookie
// parsing: it never panics and returns "" or a valid id that was in the
// header.
func FuzzIDFromCookie(f *testing.F) {
	f.Add("lifeline_session=" + newID())
	f.Add(`lifeline_session="` + newID() + `"; x=y`)
	f.Add("lifeline_session=;;;lifeline_session")
	f.Fuzz(func(t *testing.T, header string) {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", header)
		id := idFromRequest(r, "lifeline_session")
		if id == "" {
			return
		}
		if _, err := ParseID(id); err != nil {
			t.Fatalf("idFromRequest(%q) = %q, not a valid id: %v", header, id, err)
		}
		if !strings.Contains(header, id) {
			t.Fatalf("idFromRequest(%q) = %q, not from the header", header, id)
		}
	})
}

// FuzzDecodeRecord checks that stored data of any shape decodes or fails
// with ErrCorrupt, never panics, and that what decodes re-encodes to a
// record that decodes to the same.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"v":1,"deadline":1,"values":{"a":1}}`))
	f.Add([]byte(`{"v":1,"deadline":1,"values":null}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte("\x00garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		deadline, values, err := decodeRecord(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeRecord error %v does not match ErrCorrupt", err)
			}
			return
		}
		again, err := encodeRecord(deadline, values)
		if err != nil {
			t.Fatalf("encodeRecord of a decoded record: %v", err)
		}
		d2, v2, err := decodeRecord(again)
		if err != nil || !d2.Equal(deadline) || len(v2) != len(values) {
			t.Fatalf("round trip: %v, %v, %d values; want %v, %d", d2, err, len(v2), deadline, len(values))
		}
	})
}

// FuzzForeignID: whatever a client sends as a cookie, an id from an
// existing system (WithMigration) reaches accept, and so the store, only
// when it is 1 to 256 characters a store can key safely.
func FuzzForeignID(f *testing.F) {
	for _, s := range []string{"k3v9q1m7a2c8t0r5u6b4n1h2j9", "", "{x}", "a b", "a\x00b", strings.Repeat("a", 257), "a,b-c_d.e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		r := &http.Request{Header: http.Header{"Cookie": {"PHPSESSID=" + v}}}
		var asked []string
		ids := idsFromRequest(r, "PHPSESSID", func(id string) bool { asked = append(asked, id); return true })
		for _, id := range append(asked, ids...) {
			if len(id) == 0 || len(id) > 256 || strings.ContainsFunc(id, func(c rune) bool {
				return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(",-_.", c))
			}) {
				t.Fatalf("id %q reached accept or the store", id)
			}
		}
		if PHPSessionID(v) && !safeForeignID(v) {
			t.Fatalf("PHPSessionID(%q) but not safe for a store", v)
		}
	})
}
