package idempotency

import (
	"bytes"
	"errors"
	"io"
	"net/http"
)

// firstRead is the buffer readBody starts with, io.ReadAll's first size.
const firstRead = 512

// readBody reads the whole request body, up to limit bytes, as it arrives.
// A body announced or found longer than limit returns errBodyTooLarge.
//
// The buffer grows only with bytes received, never on the word of
// Content-Length (issue 13 §5: 500 connections that declared 1 MiB and
// sent nothing held 1 GiB). A declared length is a bound: net/http never
// delivers more, so reading stops there, and a body that ends before it
// returns io.ErrUnexpectedEOF (io.EOF if nothing came), as io.ReadFull
// does.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, errBodyTooLarge
	}
	if r.ContentLength > 0 {
		b, err := readUpTo(r.Body, r.ContentLength)
		switch {
		case int64(len(b)) == r.ContentLength:
			return b, nil
		case errors.Is(err, io.EOF) && len(b) > 0:
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	b, err := readUpTo(r.Body, limit)
	if err == nil {
		// limit bytes and no end yet: one more makes the body too large.
		var one [1]byte
		n := 0
		for n == 0 && err == nil {
			n, err = r.Body.Read(one[:])
		}
		if n > 0 {
			return nil, errBodyTooLarge
		}
	}
	if errors.Is(err, io.EOF) {
		return b, nil
	}
	return b, err
}

// readUpTo reads from rd until it has n bytes or a Read fails, and returns
// what it read with that Read's error (nil only if it has n bytes). The
// buffer starts at firstRead bytes and doubles when full, never past n: it
// holds at most twice what rd delivered, and a body that arrives whole
// fits it exactly, since the middleware keeps it for the whole run.
func readUpTo(rd io.Reader, n int64) ([]byte, error) {
	b := make([]byte, 0, min(n, firstRead))
	var err error
	for int64(len(b)) < n && err == nil {
		if len(b) == cap(b) {
			grown := make([]byte, len(b), int64(len(b))+min(int64(cap(b)), n-int64(len(b))))
			copy(grown, b)
			b = grown
		}
		var m int
		m, err = rd.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
	}
	return b, err
}

// restoredBody gives the handler the body the middleware read; Close
// closes the original.
type restoredBody struct {
	bytes.Reader
	orig io.Closer
}

func (b *restoredBody) Close() error { return b.orig.Close() }
