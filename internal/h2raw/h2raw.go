// Package h2raw is a minimal HTTP/2 client for tests that need a peer no
// real client would be: one that opens streams with a zero flow-control
// window and never grants more, while answering PINGs and SETTINGS like a
// live client. It speaks just enough of RFC 9113 (frames, and HPACK literals
// without Huffman coding) to send GET requests and count what comes back.
package h2raw

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Frame types and flags used here (RFC 9113 §6).
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8

	flagAck        = 0x1
	flagEndStream  = 0x1
	flagEndHeaders = 0x4

	settingInitialWindowSize = 0x4
)

const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Counts is what the server sent so far.
type Counts struct {
	Headers, Data, DataBytes, Resets, GoAways, Pings int
	EndStreams                                       int // streams the server ended cleanly (END_STREAM)
}

// Conn is one HTTP/2 connection with the given initial stream window.
type Conn struct {
	c    net.Conn
	wmu  sync.Mutex // guards bw
	bw   *bufio.Writer
	next uint32 // next stream ID

	mu     sync.Mutex // guards counts, err
	counts Counts
	err    error
	done   chan struct{}
}

// Dial starts HTTP/2 with prior knowledge on c (h2c, or TLS that negotiated
// "h2"), announcing window as SETTINGS_INITIAL_WINDOW_SIZE. It never sends
// WINDOW_UPDATE, so with window 0 the server can send headers but no data.
func Dial(c net.Conn, window uint32) (*Conn, error) {
	hc := &Conn{c: c, bw: bufio.NewWriter(c), next: 1, done: make(chan struct{})}
	if _, err := hc.bw.WriteString(preface); err != nil {
		return nil, err
	}
	var p [6]byte
	binary.BigEndian.PutUint16(p[0:], settingInitialWindowSize)
	binary.BigEndian.PutUint32(p[2:], window)
	if err := hc.writeFrame(frameSettings, 0, 0, p[:]); err != nil {
		return nil, err
	}
	go hc.readLoop()
	return hc, nil
}

// Get opens a stream with a GET request for path on authority.
func (hc *Conn) Get(authority, path string) error {
	var block []byte
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", path}, {":authority", authority}} {
		block = appendLiteral(block, f[0], f[1])
	}
	hc.wmu.Lock()
	id := hc.next
	hc.next += 2
	hc.wmu.Unlock()
	return hc.writeFrame(frameHeaders, flagEndHeaders|flagEndStream, id, block)
}

// Counts returns what the server sent so far.
func (hc *Conn) Counts() Counts {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	return hc.counts
}

// Err returns the error that ended the read loop, if it ended.
func (hc *Conn) Err() error {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	return hc.err
}

// Done is closed when the server closed the connection (or reading failed).
func (hc *Conn) Done() <-chan struct{} { return hc.done }

// Close closes the connection.
func (hc *Conn) Close() error { return hc.c.Close() }

func (hc *Conn) writeFrame(typ, flags byte, stream uint32, payload []byte) error {
	hc.wmu.Lock()
	defer hc.wmu.Unlock()
	var h [9]byte
	h[0], h[1], h[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	h[3], h[4] = typ, flags
	binary.BigEndian.PutUint32(h[5:], stream&0x7fffffff)
	if _, err := hc.bw.Write(h[:]); err != nil {
		return err
	}
	if _, err := hc.bw.Write(payload); err != nil {
		return err
	}
	return hc.bw.Flush()
}

func (hc *Conn) readLoop() {
	defer close(hc.done)
	br := bufio.NewReader(hc.c)
	var h [9]byte
	buf := make([]byte, 1<<14)
	for {
		if _, err := io.ReadFull(br, h[:]); err != nil {
			hc.fail(err)
			return
		}
		n := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
		typ, flags := h[3], h[4]
		if n > len(buf) {
			buf = make([]byte, n)
		}
		payload := buf[:n]
		if _, err := io.ReadFull(br, payload); err != nil {
			hc.fail(err)
			return
		}
		hc.mu.Lock()
		switch typ {
		case frameHeaders:
			hc.counts.Headers++
			if flags&flagEndStream != 0 {
				hc.counts.EndStreams++
			}
		case frameData:
			hc.counts.Data++
			hc.counts.DataBytes += n
			if flags&flagEndStream != 0 {
				hc.counts.EndStreams++
			}
		case frameRSTStream:
			hc.counts.Resets++
		case frameGoAway:
			hc.counts.GoAways++
		case framePing:
			hc.counts.Pings++
		}
		hc.mu.Unlock()
		var err error
		switch {
		case typ == frameSettings && flags&flagAck == 0:
			err = hc.writeFrame(frameSettings, flagAck, 0, nil)
		case typ == framePing && flags&flagAck == 0:
			err = hc.writeFrame(framePing, flagAck, 0, append([]byte(nil), payload...))
		}
		if err != nil {
			hc.fail(err)
			return
		}
	}
}

func (hc *Conn) fail(err error) {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if hc.err == nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("h2raw: server closed the connection: %w", err)
		}
		hc.err = err
	}
}

// appendLiteral appends a "literal header field without indexing, new name"
// representation (RFC 7541 §6.2.2), without Huffman coding.
func appendLiteral(b []byte, name, value string) []byte {
	b = append(b, 0x00)
	b = appendString(b, name)
	return appendString(b, value)
}

func appendString(b []byte, s string) []byte {
	b = appendInt(b, 7, uint64(len(s)))
	return append(b, s...)
}

// appendInt encodes n with an n-bit prefix (RFC 7541 §5.1); the prefix
// byte's high bits are 0 (no Huffman).
func appendInt(b []byte, prefix uint, n uint64) []byte {
	limit := uint64(1)<<prefix - 1
	if n < limit {
		return append(b, byte(n))
	}
	b = append(b, byte(limit))
	n -= limit
	for n >= 128 {
		b = append(b, byte(n%128+128))
		n /= 128
	}
	return append(b, byte(n))
}
