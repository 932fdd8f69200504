package boltstore

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/lifeline-go/lifeline/idempotency"
)

// entry is the value stored under a key:
//
//	version (1 byte) | kind (1 byte) | expires (8 bytes, big-endian Unix ns)
//	| fingerprint (uvarint length + bytes) | token (uvarint length + bytes)
//	| record (the rest; idempotency.Record.MarshalBinary, completed only)
type entry struct {
	completed   bool
	fingerprint string
	token       string // reservations only
	expires     time.Time
	record      []byte // completed only; decodeEntry leaves it in bbolt's memory
}

const (
	entryVersion  = 1
	kindReserved  = 1
	kindCompleted = 2
)

func (e *entry) state(fingerprint string) idempotency.State {
	switch {
	case e.fingerprint != fingerprint:
		return idempotency.StateMismatch
	case e.completed:
		return idempotency.StateCompleted
	}
	return idempotency.StateInProgress
}

func (e *entry) encode() []byte {
	b := make([]byte, 0, 10+2*binary.MaxVarintLen16+len(e.fingerprint)+len(e.token)+len(e.record))
	kind := byte(kindReserved)
	if e.completed {
		kind = kindCompleted
	}
	b = append(b, entryVersion, kind)
	b = binary.BigEndian.AppendUint64(b, uint64(e.expires.UnixNano()))
	b = binary.AppendUvarint(b, uint64(len(e.fingerprint)))
	b = append(b, e.fingerprint...)
	b = binary.AppendUvarint(b, uint64(len(e.token)))
	b = append(b, e.token...)
	return append(b, e.record...)
}

// decodeEntry decodes v. v belongs to bbolt and is only valid during the
// transaction: the strings are copies, the record is not and must be
// decoded (idempotency.Record.UnmarshalBinary copies) before the
// transaction ends.
func decodeEntry(v []byte) (*entry, error) {
	if len(v) < 10 || v[0] != entryVersion || (v[1] != kindReserved && v[1] != kindCompleted) {
		return nil, fmt.Errorf("%w: bad entry header", idempotency.ErrCorruptRecord)
	}
	e := &entry{
		completed: v[1] == kindCompleted,
		expires:   time.Unix(0, int64(binary.BigEndian.Uint64(v[2:10]))),
	}
	rest := v[10:]
	var ok bool
	if e.fingerprint, rest, ok = readString(rest); !ok {
		return nil, fmt.Errorf("%w: bad fingerprint", idempotency.ErrCorruptRecord)
	}
	if e.token, rest, ok = readString(rest); !ok {
		return nil, fmt.Errorf("%w: bad token", idempotency.ErrCorruptRecord)
	}
	if e.completed {
		e.record = rest
	}
	return e, nil
}

func readString(b []byte) (string, []byte, bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return "", nil, false
	}
	return string(b[w : w+int(n)]), b[w+int(n):], true
}
