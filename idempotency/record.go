package idempotency

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"slices"
)

// Record is the response of a completed run, as a [Store] keeps it for
// replay.
type Record struct {
	// StatusCode is the final status the handler wrote (200 if it wrote
	// none); 0 when it hijacked the connection.
	StatusCode int
	// Header is the response header as it was when the handler first
	// wrote, without the fields that belong to one exchange only (see
	// [Middleware.Handler]).
	Header http.Header
	// Body is the response body, empty when BodyOmitted is set.
	Body []byte
	// BodySize is how many body bytes the handler wrote.
	BodySize int64
	// BodyOmitted reports that the body was not stored, because it was
	// larger than [WithMaxResponseBody] or because the handler hijacked the
	// connection.
	BodyOmitted bool
	// Hijacked reports that the handler took over the connection
	// ([http.Hijacker]); there is no HTTP response to replay.
	Hijacked bool
}

const (
	recordVersion   = 1
	flagBodyOmitted = 1 << 0
	flagHijacked    = 1 << 1
)

// MarshalBinary encodes rec in a compact binary form for stores that hold
// bytes; [Record.UnmarshalBinary] decodes it. Header fields are written in
// sorted order, so equal records encode to equal bytes.
func (rec *Record) MarshalBinary() ([]byte, error) {
	size := 16 + len(rec.Body)
	for k, vs := range rec.Header {
		size += len(k) + 2*binary.MaxVarintLen16
		for _, v := range vs {
			size += len(v) + binary.MaxVarintLen16
		}
	}
	b := make([]byte, 0, size)
	var flags byte
	if rec.BodyOmitted {
		flags |= flagBodyOmitted
	}
	if rec.Hijacked {
		flags |= flagHijacked
	}
	b = append(b, recordVersion, flags)
	b = binary.AppendUvarint(b, uint64(max(rec.StatusCode, 0)))
	b = binary.AppendUvarint(b, uint64(max(rec.BodySize, 0)))
	keys := make([]string, 0, len(rec.Header))
	for k := range rec.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		vs := rec.Header[k]
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(rec.Body)))
	return append(b, rec.Body...), nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// UnmarshalBinary decodes data produced by [Record.MarshalBinary] into rec,
// replacing its contents. It returns an error matching [ErrCorruptRecord]
// for anything else. rec does not keep a reference to data.
func (rec *Record) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	if version := d.byte(); version != recordVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrCorruptRecord, version, recordVersion)
	}
	flags := d.byte()
	status := d.uvarint()
	bodySize := d.uvarint()
	nkeys := d.count()
	var h http.Header
	if nkeys > 0 {
		h = make(http.Header, nkeys)
	}
	for range nkeys {
		k := d.string()
		nv := d.count()
		if d.err != nil {
			break
		}
		vs := make([]string, nv)
		for j := range vs {
			vs[j] = d.string()
		}
		h[k] = vs
	}
	body := d.bytes()
	switch {
	case d.err != nil:
		return fmt.Errorf("%w: %v", ErrCorruptRecord, d.err)
	case len(d.b) != 0:
		return fmt.Errorf("%w: %d trailing bytes", ErrCorruptRecord, len(d.b))
	case flags&^(flagBodyOmitted|flagHijacked) != 0:
		return fmt.Errorf("%w: unknown flags %#x", ErrCorruptRecord, flags)
	case status > 999 || bodySize > 1<<62:
		return fmt.Errorf("%w: status %d, body size %d", ErrCorruptRecord, status, bodySize)
	}
	*rec = Record{
		StatusCode:  int(status),
		Header:      h,
		Body:        body,
		BodySize:    int64(bodySize),
		BodyOmitted: flags&flagBodyOmitted != 0,
		Hijacked:    flags&flagHijacked != 0,
	}
	return nil
}

// decoder reads the fields of an encoded Record; the first error sticks and
// makes every later read return a zero value.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("truncated or invalid %s", what)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("header")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a number of items, each at least one byte long, so that a
// corrupt count can never make the caller allocate more than len(data).
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("count")
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("length")
		return nil
	}
	if n == 0 {
		return nil
	}
	p := slices.Clone(d.b[:n])
	d.b = d.b[n:]
	return p
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("length")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
