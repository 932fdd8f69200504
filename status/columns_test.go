package status

import (
	"maps"
	"slices"
	"testing"
)

func TestFmtMS(t *testing.T) {
	tests := []struct {
		ms   float64
		want string
	}{
		{0, "0 ms"}, {0.4, "0 ms"}, {12.6, "13 ms"}, {999.4, "999 ms"},
		{1000, "1.0 s"}, {1250, "1.2 s"}, {59949, "59.9 s"},
		{60000, "1m 00s"}, {3599999, "59m 59s"}, {3600000, "1h 00m"}, {86399000, "23h 59m"},
		{86400000, "1d 00h"}, {90061000, "1d 01h"},
	}
	for _, tt := range tests {
		if got := fmtMS(tt.ms); got != tt.want {
			t.Errorf("fmtMS(%v) = %q, want %q", tt.ms, got, tt.want)
		}
	}
}

func TestFormat(t *testing.T) {
	row := map[string]any{
		"status": 3.0, "status_text": "aborted|timeout", "time_limit_ms": 0.0, "finished": false,
		"runaway": true, "ignore_user_abort": true, "session": "waiting #abc", "session_locked": false,
	}
	tests := []struct {
		kind     string
		v        any
		want     string
		wantTags []string
	}{
		{kind: "int", v: 42.0, want: "42"},
		{kind: "int", v: nil, want: "0"},
		{kind: "text", v: "GET", want: "GET"},
		{kind: "text", v: 1.0, want: ""},
		{kind: "status", v: 3.0, want: "3 aborted|timeout"},
		{kind: "limit", v: 0.0, want: "none"},
		{kind: "limit", v: 30000.0, want: "30.0 s"},
		{kind: "left", v: 0.0, want: "–"},
		{kind: "after", v: 12.0, want: "–"},
		{kind: "code", v: 0.0, want: "–"},
		{kind: "code", v: 503.0, want: "503"},
		{kind: "time", v: "2026-01-02T03:04:05.123456Z", want: "2026-01-02 03:04:05 UTC"},
		{kind: "map", v: map[string]any{"b": 2.0, "a": 1.0}, want: "a: 1 · b: 2"},
		{kind: "notes", v: map[string]any{"order": "o-1 settled", "job": "email 7", "odd": 1.0}, want: "job: email 7 · odd:  · order: o-1 settled"},
		{kind: "notes", v: map[string]any{}, want: ""},
		{kind: "notes", v: nil, want: ""},
		{kind: "flags", want: "", wantTags: []string{"runaway", "session-wait", "ignore-abort"}},
	}
	for _, tt := range tests {
		got, tags := format(tt.kind, tt.v, row)
		if got != tt.want || !slices.Equal(tags, tt.wantTags) {
			t.Errorf("format(%q, %v) = %q %v, want %q %v", tt.kind, tt.v, got, tags, tt.want, tt.wantTags)
		}
	}
	if got := rowClass(row); got != "runaway timeout aborted" {
		t.Errorf("rowClass = %q, want %q", got, "runaway timeout aborted")
	}
	if got := rowClass(map[string]any{"phase": "finished", "code": 500.0}); got != "error phase-finished" {
		t.Errorf("rowClass = %q, want %q", got, "error phase-finished")
	}
}

func TestParseSorts(t *testing.T) {
	tabs := tables()
	tests := []struct {
		vals    []string
		want    map[string]sortSpec
		wantErr bool // a value names no column: 400 (issue 19, strict parameters)
	}{
		{vals: nil, want: map[string]sortSpec{}},
		{vals: []string{"active.elapsed_ms"}, want: map[string]sortSpec{"active": {"elapsed_ms", false}}},
		{vals: []string{"-recent.code", "active._flags"}, want: map[string]sortSpec{"recent": {"code", true}, "active": {"_flags", false}}},
		{vals: []string{"active.id", "-active.uri"}, want: map[string]sortSpec{"active": {"uri", true}}},
		{vals: []string{"recent.elapsed_ms"}, wantErr: true}, // not a column of recent
		{vals: []string{"--active.id"}, wantErr: true},
		{vals: []string{"active"}, wantErr: true},
		{vals: []string{".id"}, wantErr: true},
		{vals: []string{"active."}, wantErr: true},
		{vals: []string{""}, wantErr: true},
		{vals: []string{"active.id", "nosuch.id"}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseSorts(tt.vals, tabs)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseSorts(%q) err = %v, want error %v", tt.vals, err, tt.wantErr)
			continue
		}
		if tt.wantErr {
			continue
		}
		if !maps.Equal(got, tt.want) {
			t.Errorf("parseSorts(%q) = %v, want %v", tt.vals, got, tt.want)
		}
		back, err := parseQuery(sortQuery(got, tabs)[1:])
		if err != nil || !maps.Equal(back.sorts, got) {
			t.Errorf("parseSorts(sortQuery(%v)) = %v, %v", got, back.sorts, err)
		}
	}
}

func TestCompareValues(t *testing.T) {
	ordered := []any{nil, false, true, -1.0, 0.0, 2.5, "", "a", "b", map[string]any{}}
	for i, a := range ordered {
		for j, b := range ordered {
			got := compareValues(a, b)
			if (i < j && got >= 0) || (i > j && got <= 0) || (i == j && got != 0) {
				t.Errorf("compareValues(%v, %v) = %d, want the sign of %d", a, b, got, i-j)
			}
		}
	}
}
