package session

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	deadline := time.UnixMilli(1_900_000_000_000)
	values := map[string]json.RawMessage{"b": json.RawMessage(`[1,2]`), "a": json.RawMessage(`"x<y"`)}
	data, err := encodeRecord(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"v":1,"deadline":1900000000000,"values":{"a":"x\u003cy","b":[1,2]}}`
	if string(data) != want {
		t.Errorf("encodeRecord = %s\nwant %s", data, want)
	}
	d, v, err := decodeRecord(data)
	if err != nil || !d.Equal(deadline) || len(v) != 2 {
		t.Fatalf("decodeRecord = %v, %v, %v", d, v, err)
	}
	again, _ := encodeRecord(d, v)
	if string(again) != string(data) {
		t.Errorf("re-encoding changed the bytes (lazy write needs them stable):\n%s\n%s", again, data)
	}
}

func TestDecodeRecordCorrupt(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{"empty", ""},
		{"not JSON", "a:1:{s:3:\"foo\";}"},
		{"truncated", `{"v":1,"deadline":1,"val`},
		{"trailing data", `{"v":1,"deadline":1,"values":{}}x`},
		{"future version", `{"v":2,"deadline":1,"values":{}}`},
		{"no version", `{"deadline":1,"values":{}}`},
		{"no deadline", `{"v":1,"values":{}}`},
		{"values not an object", `{"v":1,"deadline":1,"values":[1]}`},
		{"array", `[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := decodeRecord([]byte(tt.data)); !errors.Is(err, ErrCorrupt) {
				t.Errorf("decodeRecord(%q) = %v, want ErrCorrupt", tt.data, err)
			}
		})
	}
}
