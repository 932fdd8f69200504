package compress

import (
	"bytes"
	stdgzip "compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// allEncodings are the codings every table-driven test runs over.
var allEncodings = []string{encGzip, encZstd, encBrotli}

// fakeResponse is a responseState for unit tests of the handler without an
// output stack.
type fakeResponse struct {
	header http.Header
	code   int
	sent   bool
}

func newFakeResponse() *fakeResponse { return &fakeResponse{header: http.Header{}} }

func (f *fakeResponse) Header() http.Header { return f.header }
func (f *fakeResponse) StatusCode() int     { return f.code }
func (f *fakeResponse) HeadersSent() bool   { return f.sent }

// newTestHandler returns a handler of a Compressor built with opts, for a
// GET request with the given Accept-Encoding.
func newTestHandler(t testing.TB, ae string, opts ...Option) (*handler, *fakeResponse) {
	t.Helper()
	c, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if ae != "" {
		r.Header.Set("Accept-Encoding", ae)
	}
	st := newFakeResponse()
	return c.newHandler(st, r), st
}

// decode decodes a complete stream of the given coding.
func decode(t testing.TB, enc string, data []byte) []byte {
	t.Helper()
	got, err := io.ReadAll(decoder(t, enc, bytes.NewReader(data)))
	if err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	return got
}

// decodePrefix decodes n bytes from the start of a possibly unfinished
// stream: it fails if data does not hold all of them, which is what a
// flush must guarantee.
func decodePrefix(t testing.TB, enc string, data []byte, n int) []byte {
	t.Helper()
	got := make([]byte, n)
	if _, err := io.ReadFull(decoder(t, enc, bytes.NewReader(data)), got); err != nil {
		t.Fatalf("decode %d bytes of unfinished %s stream (%d bytes): %v", n, enc, len(data), err)
	}
	return got
}

// decoder returns a reader decoding r. gzip is decoded by the standard
// library, independently of the encoder.
func decoder(t testing.TB, enc string, r io.Reader) io.Reader {
	t.Helper()
	d, closeFn, err := newDecoderErr(enc, r)
	if err != nil {
		t.Fatalf("%s decoder: %v", enc, err)
	}
	t.Cleanup(closeFn)
	return d
}

// decodeErr decodes a complete stream, for goroutines that cannot call
// t.Fatal.
func decodeErr(enc string, data []byte) ([]byte, error) {
	d, closeFn, err := newDecoderErr(enc, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer closeFn()
	return io.ReadAll(d)
}

func newDecoderErr(enc string, r io.Reader) (io.Reader, func(), error) {
	switch enc {
	case encGzip:
		zr, err := stdgzip.NewReader(r)
		return zr, func() {}, err
	case encZstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	case encBrotli:
		return brotli.NewReader(r), func() {}, nil
	}
	return nil, nil, fmt.Errorf("unknown encoding %q", enc)
}

// words is the vocabulary of the generated test documents.
var words = strings.Fields(`lifeline connection handling request response buffer
	output session shutdown function timeout abort client server header status
	order invoice customer payment account product price quantity shipping
	address email message notification report dashboard settings profile
	the and of to in is for with on that by this from at as an be are`)

// htmlPage returns a deterministic HTML document of about n bytes, with the
// structure and repetition of a real page.
func htmlPage(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Orders</title>\n" +
		"<link rel=\"stylesheet\" href=\"/static/app.css\"></head>\n<body>\n<table class=\"orders\">\n")
	for i := 0; b.Len() < n-40; i++ {
		fmt.Fprintf(&b, "<tr id=\"order-%d\" class=\"row %s\"><td class=\"id\">%d</td><td class=\"name\">%s %s</td>"+
			"<td class=\"amount\">%d.%02d</td><td><a href=\"/orders/%d\">%s</a></td></tr>\n",
			i, words[rng.IntN(len(words))], 100000+i, words[rng.IntN(len(words))], words[rng.IntN(len(words))],
			rng.IntN(1000), rng.IntN(100), i, words[rng.IntN(len(words))])
	}
	b.WriteString("</table>\n</body>\n</html>\n")
	return b.Bytes()
}

// jsonDoc returns a deterministic JSON array of about n bytes, shaped like
// an API response.
func jsonDoc(n int) []byte {
	rng := rand.New(rand.NewPCG(3, 4))
	var b bytes.Buffer
	b.WriteString("[")
	for i := 0; b.Len() < n-2; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":%d,"customer":"%s %s","email":"%s@example.com","total":%d.%02d,"status":"%s","items":[{"sku":"SKU-%05d","qty":%d}]}`,
			i, words[rng.IntN(len(words))], words[rng.IntN(len(words))], words[rng.IntN(len(words))],
			rng.IntN(1000), rng.IntN(100), words[rng.IntN(len(words))], rng.IntN(100000), 1+rng.IntN(9))
	}
	b.WriteString("]")
	return b.Bytes()
}

// randomBytes returns n deterministic incompressible bytes.
func randomBytes(n int) []byte {
	rng := rand.New(rand.NewPCG(5, 6))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}
