package idempotency_test

import (
	"bytes"
	"errors"
	"net/http"
	"reflect"
	"testing"

	"github.com/lifeline-go/lifeline/idempotency"
)

func TestRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		rec  idempotency.Record
	}{
		{"zero", idempotency.Record{}},
		{"full", idempotency.Record{
			StatusCode: 201,
			Header:     http.Header{"Location": {"/orders/1"}, "Vary": {"Accept", "Origin"}, "X-Empty": {""}},
			Body:       []byte("{\"id\":1}\x00\xff"),
			BodySize:   10,
		}},
		{"omitted", idempotency.Record{StatusCode: 200, BodySize: 1 << 40, BodyOmitted: true}},
		{"hijacked", idempotency.Record{Hijacked: true, BodyOmitted: true, BodySize: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := tt.rec.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary: %v", err)
			}
			var got idempotency.Record
			if err := got.UnmarshalBinary(data); err != nil {
				t.Fatalf("UnmarshalBinary: %v", err)
			}
			if !reflect.DeepEqual(got, tt.rec) {
				t.Fatalf("round trip = %+v, want %+v", got, tt.rec)
			}
			again, _ := got.MarshalBinary()
			if !bytes.Equal(again, data) {
				t.Fatalf("MarshalBinary is not deterministic: %x then %x", data, again)
			}
		})
	}
}

func TestRecordUnmarshalRejects(t *testing.T) {
	good, _ := (&idempotency.Record{StatusCode: 200, Header: http.Header{"A": {"b"}}, Body: []byte("body")}).MarshalBinary()
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"version", append([]byte{9}, good[1:]...)},
		{"flags", append([]byte{good[0], 0x80}, good[2:]...)},
		{"truncated", good[:len(good)-1]},
		{"trailing", append(append([]byte(nil), good...), 0)},
		{"huge count", []byte{1, 0, 200, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"status over 999", []byte{1, 0, 0xe8, 0x07, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec idempotency.Record
			if err := rec.UnmarshalBinary(tt.data); !errors.Is(err, idempotency.ErrCorruptRecord) {
				t.Fatalf("UnmarshalBinary(%x) error = %v, want ErrCorruptRecord", tt.data, err)
			}
		})
	}
}

// FuzzRecordUnmarshal checks that any bytes a store hands back either fail
// with ErrCorruptRecord or decode to a record that survives another
// round trip unchanged.
func FuzzRecordUnmarshal(f *testing.F) {
	for _, rec := range []idempotency.Record{
		{},
		{StatusCode: 201, Header: http.Header{"Location": {"/x"}, "Vary": {"A", "B"}}, Body: []byte("hello"), BodySize: 5},
		{StatusCode: 200, BodySize: 1 << 30, BodyOmitted: true},
	} {
		data, _ := rec.MarshalBinary()
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec idempotency.Record
		if err := rec.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, idempotency.ErrCorruptRecord) {
				t.Fatalf("UnmarshalBinary error %v does not match ErrCorruptRecord", err)
			}
			return
		}
		again, err := rec.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary: %v", err)
		}
		var rec2 idempotency.Record
		if err := rec2.UnmarshalBinary(again); err != nil || !reflect.DeepEqual(rec, rec2) {
			t.Fatalf("re-encoded record decodes to %+v, %v; want %+v", rec2, err, rec)
		}
	})
}
