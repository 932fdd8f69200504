package compress

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/lifeline-go/lifeline/output"
)

// responseState is what a handler reads and changes of the response it
// compresses. *output.Stack provides it.
type responseState interface {
	Header() http.Header
	StatusCode() int
	HeadersSent() bool
}

// The states of a handler.
const (
	stateUndecided = iota // nothing decided yet: the next call is a start
	stateStreaming        // compressing; headers set
	stateDone             // the stream ended
)

// handler is the [output.Handler] that [Compressor.Start] pushes. It is
// owned by the run's goroutine, like the stack it sits on.
type handler struct {
	opts  *options
	codec *codec // nil: the client accepts none of our codings
	st    responseState
	head  bool // a HEAD request

	state int
	enc   encoder      // the stream encoder, while streaming
	out   appendWriter // the encoder's output, returned by Handle
}

// Name returns the handler's name for status listings: "compress" followed
// by the negotiated content coding, as in "compress gzip", or
// "compress identity" when the client accepts none of them.
func (h *handler) Name() string {
	if h.codec == nil {
		return "compress identity"
	}
	return "compress " + h.codec.name
}

// Handle compresses buf. See [Compressor.Start] for the rules it follows.
func (h *handler) Handle(buf []byte, phase output.Op) ([]byte, error) {
	switch h.state {
	case stateStreaming:
		return h.stream(buf, phase)
	case stateDone:
		return nil, nil
	}
	if phase&output.OpClean != 0 {
		// Discarded before anything was decided: the next call starts
		// afresh, and nothing of this one reaches the client.
		return nil, nil
	}
	// A Content-Length the handler set to exactly what is buffered declares
	// the whole body, as the seed's early-close recipe does before it
	// flushes: compress it all now and correct the length, so the early
	// answer goes out compressed and the client is not left waiting.
	final := phase&output.OpFinal != 0 || declaresWhole(h.st.Header(), len(buf))
	switch v := h.decide(buf, final); v {
	case verdictWait:
		return nil, nil
	case verdictDecline:
		return nil, output.ErrDecline
	case verdictDeclineVary:
		addVary(h.st.Header())
		return nil, output.ErrDecline
	}
	if final {
		return h.whole(buf)
	}
	h.setHeaders()
	h.st.Header().Del("Content-Length")
	h.state = stateStreaming
	return h.stream(buf, phase)
}

// The outcomes of decide.
type verdict int

const (
	verdictCompress    verdict = iota
	verdictDecline             // pass the body through as it is
	verdictDeclineVary         // the same, after adding Vary: Accept-Encoding
	verdictWait                // too early to tell: no byte and no type yet
)

// decide applies the skip rules to the first buffer of the response.
func (h *handler) decide(buf []byte, final bool) verdict {
	if h.st.HeadersSent() || h.head {
		return verdictDecline
	}
	switch code := h.st.StatusCode(); {
	case code == 0: // 200
	case code < http.StatusOK, code == http.StatusNoContent,
		code == http.StatusNotModified, code == http.StatusPartialContent:
		return verdictDecline
	}
	hdr := h.st.Header()
	if hdr.Get("Content-Range") != "" {
		return verdictDecline
	}
	if _, ok := hdr["Content-Encoding"]; ok {
		return verdictDecline // already encoded, or compression refused
	}
	var ct string
	if v, ok := hdr["Content-Type"]; ok {
		if len(v) > 0 {
			ct = v[0]
		}
	} else {
		if len(buf) == 0 {
			if final {
				return verdictDecline // an empty body
			}
			return verdictWait
		}
		// What net/http would do with the raw body; it must not see
		// the compressed one.
		ct = http.DetectContentType(buf)
		hdr.Set("Content-Type", ct)
	}
	if !h.opts.compressible(ct) {
		return verdictDecline
	}
	if final && (len(buf) == 0 || len(buf) < h.opts.minSize) {
		return verdictDecline
	}
	if h.codec == nil {
		return verdictDeclineVary
	}
	return verdictCompress
}

// whole compresses a body known in full. It declines if compression does
// not make the body smaller.
func (h *handler) whole(buf []byte) ([]byte, error) {
	out, err := h.codec.compressAll(make([]byte, 0, len(buf)/4+64), buf)
	if err != nil {
		return nil, fmt.Errorf("compress: %s: %w", h.codec.name, err)
	}
	if len(out) >= len(buf) {
		return nil, output.ErrDecline
	}
	h.setHeaders()
	h.st.Header().Set("Content-Length", strconv.Itoa(len(out)))
	h.state = stateDone
	return out, nil
}

// stream feeds buf to the stream encoder and returns what it produced.
func (h *handler) stream(buf []byte, phase output.Op) ([]byte, error) {
	if phase&output.OpClean != 0 {
		// Discard buf. What the encoder already took stays: it was passed
		// on when it was handed over, as a handler's output is.
		if phase&output.OpFinal != 0 {
			h.release()
		}
		return nil, nil
	}
	h.out.b = h.out.b[:0]
	if h.enc == nil {
		h.enc = h.codec.get(&h.out)
	}
	var err error
	if len(buf) > 0 {
		_, err = h.enc.Write(buf)
	}
	switch {
	case err != nil:
	case phase&output.OpFinal != 0:
		err = h.enc.Close()
		h.release()
	case phase&output.OpFlush != 0:
		err = h.enc.Flush()
	}
	if err != nil {
		return nil, fmt.Errorf("compress: %s: %w", h.codec.name, err)
	}
	return h.out.b, nil
}

// release returns the encoder to its pool and ends the stream.
func (h *handler) release() {
	if h.enc != nil {
		h.codec.put(h.enc)
		h.enc = nil
	}
	h.state = stateDone
}

// setHeaders sets the headers of a compressed response.
func (h *handler) setHeaders() {
	hdr := h.st.Header()
	hdr.Set("Content-Encoding", h.codec.name)
	addVary(hdr)
	// A byte range of the compressed form is not one of the original.
	hdr.Del("Accept-Ranges")
	// The compressed body is not byte-for-byte the one a strong ETag
	// names (RFC 9110 §8.8.1).
	if et := hdr.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		hdr.Set("ETag", "W/"+et)
	}
}

// addVary adds "Accept-Encoding" to the Vary header unless it is already
// listed (or "*" is), keeping the values already there (php bug51269).
func addVary(hdr http.Header) {
	for _, v := range hdr.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			f = trimOWS(f)
			if f == "*" || strings.EqualFold(f, "Accept-Encoding") {
				return
			}
		}
	}
	hdr.Add("Vary", "Accept-Encoding")
}

var _ output.Handler = (*handler)(nil)

// declaresWhole reports whether hdr's Content-Length is exactly n (n > 0).
func declaresWhole(hdr http.Header, n int) bool {
	v := hdr.Get("Content-Length")
	if v == "" || n == 0 {
		return false
	}
	cl, err := strconv.Atoi(strings.TrimSpace(v))
	return err == nil && cl == n
}
