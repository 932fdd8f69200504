package session

import (
	"encoding/json"
	"fmt"
	"time"
)

// recordVersion is the version of the stored format below.
const recordVersion = 1

// record is what the Manager stores for a session, encoded as JSON:
//
//	{"v":1,"deadline":1735689600000,"values":{"cart":[1,2],"user":"ann"}}
//
// Why JSON and not encoding/gob: values are encoded when they are set, so a
// value that cannot be stored is an error from [Session.Set], not a failed
// write at the end of the run; decoding goes into the caller's own typed
// variable, so no type registry (gob.Register is global mutable state) is
// needed and changing a Go type between deploys cannot break decoding of
// the other values; the bytes are canonical (sorted keys), which lazy write
// needs to see that nothing changed; and the data can be read by people and
// by programs in other languages, in redis-cli or a bolt dump. The cost is
// size and speed against gob for large binary values ([]byte is base64):
// sessions should stay small anyway.
type record struct {
	Version  int                        `json:"v"`
	Deadline int64                      `json:"deadline"` // end of the lifetime, Unix ms
	Values   map[string]json.RawMessage `json:"values"`
}

// encodeRecord returns the canonical encoding of a session.
func encodeRecord(deadline time.Time, values map[string]json.RawMessage) ([]byte, error) {
	b, err := json.Marshal(record{Version: recordVersion, Deadline: deadline.UnixMilli(), Values: values})
	if err != nil {
		return nil, fmt.Errorf("session: encode: %w", err)
	}
	return b, nil
}

// decodeRecord parses stored data; anything malformed wraps [ErrCorrupt].
func decodeRecord(data []byte) (time.Time, map[string]json.RawMessage, error) {
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return time.Time{}, nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if rec.Version != recordVersion {
		return time.Time{}, nil, fmt.Errorf("%w: format version %d, want %d", ErrCorrupt, rec.Version, recordVersion)
	}
	if rec.Deadline <= 0 {
		return time.Time{}, nil, fmt.Errorf("%w: no deadline", ErrCorrupt)
	}
	if rec.Values == nil {
		rec.Values = make(map[string]json.RawMessage)
	}
	return time.UnixMilli(rec.Deadline), rec.Values, nil
}
