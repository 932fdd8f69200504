package compress_test

import (
	"bytes"
	stdgzip "compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/lifeline-go/lifeline/compress"
	"github.com/lifeline-go/lifeline/output"
)

// Tests through a real output.Stack, as a run uses it: a 4 KiB base buffer
// at level 0 (the run's output buffering), the compression level above it.

var encodings = []string{"gzip", "zstd", "br"}

// recSink records what reaches the client side of a Stack.
type recSink struct {
	code    int
	header  http.Header
	body    bytes.Buffer
	flushed []int // body length at each Flush
}

func (s *recSink) WriteHeader(code int, h http.Header) error {
	if code >= 200 {
		s.code, s.header = code, h.Clone()
	}
	return nil
}

func (s *recSink) Write(p []byte) (int, error) { return s.body.Write(p) }

func (s *recSink) Flush() error {
	s.flushed = append(s.flushed, s.body.Len())
	return nil
}

// newStack returns a Stack with a run's base buffer and a compression level
// started for a request with the given method and Accept-Encoding.
func newStack(t *testing.T, method, ae string, opts ...compress.Option) (*output.Stack, *recSink) {
	t.Helper()
	c, err := compress.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	sink := &recSink{}
	s := output.NewStack(sink)
	if err := s.StartBase(4096); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(method, "/", nil)
	if ae != "" {
		r.Header.Set("Accept-Encoding", ae)
	}
	if err := c.Start(s, r); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return s, sink
}

// page returns an HTML body of about n bytes.
func page(n int) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html><html><body><ul>\n")
	for i := 0; b.Len() < n; i++ {
		b.WriteString("<li class=\"item\">order " + strconv.Itoa(i) + " shipped to customer " + strconv.Itoa(i*7%1000) + "</li>\n")
	}
	b.WriteString("</ul></body></html>\n")
	return b.String()
}

func decodeAll(t *testing.T, enc string, data []byte) string {
	t.Helper()
	b, err := io.ReadAll(newDecoder(t, enc, bytes.NewReader(data)))
	if err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	return string(b)
}

func newDecoder(t *testing.T, enc string, r io.Reader) io.Reader {
	t.Helper()
	switch enc {
	case "gzip":
		zr, err := stdgzip.NewReader(r)
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		return zr
	case "zstd":
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			t.Fatalf("zstd: %v", err)
		}
		t.Cleanup(zr.Close)
		return zr
	case "br":
		return brotli.NewReader(r)
	}
	t.Fatalf("unknown encoding %q", enc)
	return nil
}

// TestStackWhole: the body is known in full at the end (EndAll, as at the
// end of a run or at Finish): Content-Length is the compressed length, as
// both the handler and the stack set it.
func TestStackWhole(t *testing.T) {
	body := page(20 << 10)
	for _, enc := range encodings {
		t.Run(enc, func(t *testing.T) {
			s, sink := newStack(t, http.MethodGet, enc)
			for i := 0; i < len(body); i += 3000 {
				io.WriteString(s, body[i:min(i+3000, len(body))])
			}
			if err := s.EndAll(); err != nil {
				t.Fatalf("EndAll: %v", err)
			}
			if got := sink.header.Get("Content-Encoding"); got != enc {
				t.Errorf("Content-Encoding = %q, want %q", got, enc)
			}
			if got, want := sink.header.Get("Content-Length"), strconv.Itoa(sink.body.Len()); got != want {
				t.Errorf("Content-Length = %s, want %s", got, want)
			}
			if got := decodeAll(t, enc, sink.body.Bytes()); got != body {
				t.Errorf("decoded %d bytes, want %d", len(got), len(body))
			}
		})
	}
}

// TestStackEarlyAnswer is the seed recipe "close connection early" done the
// Lifeline way: ob_start, echo, header("Content-Length: ".ob_get_length()),
// then Finish, which ends every level (EndAll). PHP would drop compression
// because of the Content-Length (§11 E16); here the length is corrected.
func TestStackEarlyAnswer(t *testing.T) {
	body := page(8 << 10)
	s, sink := newStack(t, http.MethodGet, "gzip, br")
	s.Start(nil, 0, output.StdFlags) // the recipe's ob_start()
	io.WriteString(s, body)
	n, _ := s.Length()
	s.Header().Set("Content-Length", strconv.Itoa(n))
	s.Header().Set("Connection", "close")
	if err := s.EndAll(); err != nil {
		t.Fatalf("EndAll: %v", err)
	}
	if got, want := sink.header.Get("Content-Length"), strconv.Itoa(sink.body.Len()); got != want || n == sink.body.Len() {
		t.Errorf("Content-Length = %s, want the compressed %s (uncompressed %d)", got, want, n)
	}
	if got := decodeAll(t, "br", sink.body.Bytes()); got != body {
		t.Error("decoded body differs")
	}
}

// TestStackStreaming: a FlushAll (http.Flusher) in the middle delivers a
// decodable prefix to the client; Content-Length is dropped.
func TestStackStreaming(t *testing.T) {
	first, second := "data: "+page(500)+"\n\n", "data: "+page(30<<10)+"\n\n"
	for _, enc := range encodings {
		t.Run(enc, func(t *testing.T) {
			s, sink := newStack(t, http.MethodGet, enc)
			s.Header().Set("Content-Type", "text/event-stream")
			s.Header().Set("Content-Length", "999")
			io.WriteString(s, first)
			if err := s.FlushAll(); err != nil {
				t.Fatalf("FlushAll: %v", err)
			}
			got := make([]byte, len(first))
			if _, err := io.ReadFull(newDecoder(t, enc, bytes.NewReader(sink.body.Bytes())), got); err != nil || string(got) != first {
				t.Fatalf("after flush, decoded %q, %v; want the first event", got, err)
			}
			io.WriteString(s, second)
			if err := s.EndAll(); err != nil {
				t.Fatalf("EndAll: %v", err)
			}
			if got := decodeAll(t, enc, sink.body.Bytes()); got != first+second {
				t.Errorf("decoded %d bytes, want %d", len(got), len(first+second))
			}
			if got := sink.header.Get("Content-Length"); got != "" {
				t.Errorf("Content-Length = %q on a streamed response", got)
			}
		})
	}
}

// TestStackNoEncoding: a client that accepts nothing we offer gets the body
// as it was written, with Vary; the level steps aside at the first write.
func TestStackNoEncoding(t *testing.T) {
	s, sink := newStack(t, http.MethodGet, "identity")
	io.WriteString(s, "small")
	st := s.Status()
	// With no coding accepted, the level sits above the base buffer and
	// steps aside at the first write.
	if len(st) != 2 || st[1].Name != "compress identity" || !st[1].Disabled {
		t.Fatalf("Status() = %+v, want a disabled compress identity level after the first write", st)
	}
	io.WriteString(s, " body")
	s.EndAll()
	if got := sink.body.String(); got != "small body" {
		t.Errorf("body = %q", got)
	}
	if got := sink.header.Values("Vary"); !slices.Equal(got, []string{"Accept-Encoding"}) {
		t.Errorf("Vary = %q, want [Accept-Encoding]", got)
	}
	if got := sink.header.Get("Content-Encoding"); got != "" {
		t.Errorf("Content-Encoding = %q", got)
	}
}

func TestStackHead(t *testing.T) {
	s, sink := newStack(t, http.MethodHead, "gzip")
	io.WriteString(s, page(4<<10))
	s.EndAll()
	if got := sink.header.Get("Content-Encoding"); got != "" {
		t.Errorf("HEAD: Content-Encoding = %q", got)
	}
}

func TestStackStatusName(t *testing.T) {
	s, _ := newStack(t, http.MethodGet, "gzip;q=0.5, zstd")
	// The level takes the untouched base buffer's place, as
	// zlib.output_compression takes output_buffering's.
	if st := s.Status(); len(st) != 1 || st[0].Name != "compress zstd" || st[0].ChunkSize != 0 {
		t.Errorf("Status() = %+v, want one level named compress zstd, chunk 0", st)
	}
}

// TestStackClean: ob_clean on the compression level before anything went
// out discards the buffer, and the rest is compressed as a fresh start.
func TestStackClean(t *testing.T) {
	s, sink := newStack(t, http.MethodGet, "gzip")
	io.WriteString(s, "an error page that is thrown away")
	if err := s.Clean(); err != nil {
		t.Fatalf("Clean: %v", err)
	}
	body := page(4 << 10)
	io.WriteString(s, body)
	s.EndAll()
	if got := decodeAll(t, "gzip", sink.body.Bytes()); got != body {
		t.Errorf("decoded %d bytes, want %d", len(got), len(body))
	}
}

// TestStackChunkSize: with WithChunkSize the handler compresses as the
// chunks fill, bounding the uncompressed bytes held. The level sits where
// the base buffer was (as zlib.output_compression does), so the compressed
// stream goes out as it is produced: chunked, with no Content-Length.
func TestStackChunkSize(t *testing.T) {
	body := page(64 << 10)
	s, sink := newStack(t, http.MethodGet, "gzip", compress.WithChunkSize(16<<10))
	for i := 0; i < len(body); i += 1000 {
		io.WriteString(s, body[i:min(i+1000, len(body))])
		if n := s.Status()[0].Used; n >= 16<<10 {
			t.Fatalf("compression level holds %d bytes, over its 16 KiB chunk", n)
		}
	}
	if st := s.Status(); !st[0].Started || st[0].Disabled {
		t.Errorf("Status() = %+v, want a started, enabled compression level", st)
	}
	s.EndAll()
	if got := decodeAll(t, "gzip", sink.body.Bytes()); got != body {
		t.Errorf("decoded %d bytes, want %d", len(got), len(body))
	}
	if got := sink.header.Get("Content-Length"); got != "" {
		t.Errorf("Content-Length = %q, want none for a streamed body", got)
	}
}

// TestStartError: Start reports, wrapped, why the stack refused the level;
// here it is called from inside an output handler.
func TestStartError(t *testing.T) {
	c, err := compress.New()
	if err != nil {
		t.Fatal(err)
	}
	s := output.NewStack(&recSink{})
	var startErr error
	s.Start(output.HandlerFunc(func(b []byte, _ output.Op) ([]byte, error) {
		startErr = c.Start(s, httptest.NewRequest(http.MethodGet, "/", nil))
		return b, nil
	}), 0, output.StdFlags)
	s.Flush()
	if !errors.Is(startErr, output.ErrInHandler) || !strings.HasPrefix(startErr.Error(), "compress: ") {
		t.Errorf("Start in a handler = %v, want a compress error wrapping output.ErrInHandler", startErr)
	}
}

// TestStackTwice: PHP refuses ob_gzhandler twice ("cannot be used twice");
// here a second compression level (middleware plus an explicit Start) is
// harmless: the upper level compresses, the lower one finds
// Content-Encoding set and steps aside.
func TestStackTwice(t *testing.T) {
	body := page(8 << 10)
	for _, flushFirst := range []bool{false, true} {
		s, sink := newStack(t, http.MethodGet, "gzip")
		c, _ := compress.New()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Accept-Encoding", "gzip")
		if err := c.Start(s, r); err != nil {
			t.Fatal(err)
		}
		io.WriteString(s, body[:100])
		if flushFirst {
			s.FlushAll()
		}
		io.WriteString(s, body[100:])
		s.EndAll()
		if got := decodeAll(t, "gzip", sink.body.Bytes()); got != body {
			t.Errorf("flush first %v: decoded %d bytes, want %d (compressed once)", flushFirst, len(got), len(body))
		}
		if got := sink.header.Values("Content-Encoding"); len(got) != 1 {
			t.Errorf("flush first %v: Content-Encoding = %q", flushFirst, got)
		}
	}
}
