package h2raw

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
)

// GetHeaderOnly sends GET / on c and returns once the response's header has
// arrived, having read as little past it as it can (16 bytes at most): the
// rest of the response stays unread in the socket's buffers, as with a
// client that stopped reading. With h2 false it speaks HTTP/1.1; with h2
// true, HTTP/2 with prior knowledge (h2c, or TLS that negotiated "h2"), with
// hand-made frames so that no client library reads the body in the
// background; https says which :scheme the request names.
func GetHeaderOnly(c net.Conn, h2, https bool) error {
	if !h2 {
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return fmt.Errorf("h2raw: send: %w", err)
		}
		if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
			return fmt.Errorf("h2raw: read header: %w", err)
		}
		return nil
	}
	// The preface, empty SETTINGS, and one GET whose HPACK block uses the
	// static table (:method GET, :scheme, :path /) and a literal
	// :authority (RFC 7541 §6.2.1).
	scheme := byte(0x86) // http
	if https {
		scheme = 0x87
	}
	b := []byte(preface)
	b = AppendFrame(b, frameSettings, 0, 0, nil)
	b = AppendFrame(b, frameHeaders, flagEndStream|flagEndHeaders, 1, []byte{0x82, scheme, 0x84, 0x41, 1, 'x'})
	if _, err := c.Write(b); err != nil {
		return fmt.Errorf("h2raw: send: %w", err)
	}
	// Read up to the response's HEADERS frame on stream 1.
	br := bufio.NewReaderSize(c, 16)
	for {
		var h [9]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return fmt.Errorf("h2raw: read header: %w", err)
		}
		n := int64(h[0])<<16 | int64(h[1])<<8 | int64(h[2])
		if _, err := io.CopyN(io.Discard, br, n); err != nil {
			return fmt.Errorf("h2raw: read header: %w", err)
		}
		if h[3] == frameHeaders && binary.BigEndian.Uint32(h[5:]) == 1 {
			return nil
		}
	}
}

// AppendFrame appends to b a frame of type typ with flags on stream, with
// payload (RFC 9113 §4.1).
func AppendFrame(b []byte, typ, flags byte, stream uint32, payload []byte) []byte {
	b = append(b, byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload)), typ, flags)
	b = binary.BigEndian.AppendUint32(b, stream)
	return append(b, payload...)
}
