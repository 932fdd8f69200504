package compress

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
)

// TestStreamingFlush checks that a flush makes everything written so far
// decodable from what was emitted so far, as SSE and progress output need.
func TestStreamingFlush(t *testing.T) {
	parts := [][]byte{[]byte("data: first event\n\n"), htmlPage(20 << 10), []byte("data: last event\n\n")}
	for _, enc := range allEncodings {
		t.Run(enc, func(t *testing.T) {
			h, st := newTestHandler(t, enc)
			st.header.Set("Content-Type", "text/event-stream")
			st.header.Set("Content-Length", "12345")
			var emitted, want []byte
			for i, p := range parts {
				phase := flush
				if i == 0 {
					phase |= start
				}
				out, err := h.Handle(p, phase)
				if err != nil {
					t.Fatalf("part %d: Handle: %v", i, err)
				}
				emitted = append(emitted, out...)
				want = append(want, p...)
				if got := decodePrefix(t, enc, emitted, len(want)); !bytes.Equal(got, want) {
					t.Fatalf("after flush %d: decoded %q..., want %q...", i, trunc(got), trunc(want))
				}
			}
			out, err := h.Handle(nil, final)
			if err != nil {
				t.Fatalf("final Handle: %v", err)
			}
			emitted = append(emitted, out...)
			if got := decode(t, enc, emitted); !bytes.Equal(got, want) {
				t.Fatalf("decoded %d bytes, want %d", len(got), len(want))
			}
			if got := st.header.Get("Content-Length"); got != "" {
				t.Errorf("Content-Length = %q, want none when streaming", got)
			}
		})
	}
}

func trunc(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

func TestClean(t *testing.T) {
	a, b, c := string(htmlPage(3000)), string(jsonDoc(5000)), string(htmlPage(7000))
	tests := []struct {
		name    string
		calls   []call
		want    string
		headers bool // Content-Encoding expected
	}{
		// ob_clean before any output: a fresh start.
		{name: "clean then end", calls: []call{{a, start | clean}, {b, final}}, want: b, headers: true},
		{name: "clean then flush", calls: []call{{a, start | clean}, {b, flush}, {c, final}}, want: b + c, headers: true},
		// ob_end_clean before any output: nothing at all.
		{name: "end clean", calls: []call{{a, start | clean | final}}, want: "", headers: false},
		// ob_clean after a flush: only the buffer is dropped, the stream
		// stays valid.
		{name: "flush clean end", calls: []call{{a, start | flush}, {b, clean}, {c, final}}, want: a + c, headers: true},
	}
	for _, enc := range allEncodings {
		for _, tt := range tests {
			t.Run(enc+"/"+tt.name, func(t *testing.T) {
				h, st := newTestHandler(t, enc)
				st.header.Set("Content-Type", "text/plain")
				out := runCalls(t, h, tt.calls)
				if got := st.header.Get("Content-Encoding") != ""; got != tt.headers {
					t.Fatalf("Content-Encoding set = %v, want %v", got, tt.headers)
				}
				if !tt.headers {
					if len(out) != 0 {
						t.Fatalf("output %d bytes, want none", len(out))
					}
					return
				}
				if got := decode(t, enc, out); string(got) != tt.want {
					t.Errorf("decoded %d bytes, want %d", len(got), len(tt.want))
				}
			})
		}
	}
}

// TestEarlyFlush covers a flush before any byte: with a Content-Type the
// handler commits (an SSE handler flushing its headers); without one it
// cannot sniff and waits for the first byte.
func TestEarlyFlush(t *testing.T) {
	body := htmlPage(4 << 10)
	for _, enc := range allEncodings {
		t.Run(enc+"/with type", func(t *testing.T) {
			h, st := newTestHandler(t, enc)
			st.header.Set("Content-Type", "text/event-stream")
			out := runCalls(t, h, []call{{"", start | flush}, {string(body), flush}})
			if st.header.Get("Content-Encoding") != enc {
				t.Fatalf("Content-Encoding = %q, want %q", st.header.Get("Content-Encoding"), enc)
			}
			if got := decodePrefix(t, enc, out, len(body)); !bytes.Equal(got, body) {
				t.Error("decoded body differs")
			}
		})
		t.Run(enc+"/without type", func(t *testing.T) {
			h, st := newTestHandler(t, enc)
			out, err := h.Handle(nil, start|flush)
			if err != nil || len(out) != 0 || st.header.Get("Content-Encoding") != "" {
				t.Fatalf("empty first flush = %d bytes, %v, Content-Encoding %q; want nothing decided",
					len(out), err, st.header.Get("Content-Encoding"))
			}
			out = runCalls(t, h, []call{{string(body), final}})
			if got := st.header.Get("Content-Length"); got != strconv.Itoa(len(out)) {
				t.Errorf("Content-Length = %q, want %d", got, len(out))
			}
			if !bytes.Equal(decode(t, enc, out), body) {
				t.Error("decoded body differs")
			}
		})
	}
}

// TestConcurrentUse shares one Compressor, and its encoder pools, between
// goroutines, as runs do; -race checks the pools.
func TestConcurrentUse(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	body := htmlPage(16 << 10)
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(allEncodings))
	for i := range 8 {
		for _, enc := range allEncodings {
			wg.Go(func() {
				r, _ := http.NewRequest(http.MethodGet, "/", nil)
				r.Header.Set("Accept-Encoding", enc)
				for j := range 5 {
					st := newFakeResponse()
					st.header.Set("Content-Type", "text/html")
					h := c.newHandler(st, r)
					var out []byte
					var err error
					if (i+j)%2 == 0 {
						out, err = h.Handle(body, start|final)
					} else {
						// Streamed; the handler reuses its buffer, so
						// keep a copy of the first output.
						out, err = h.Handle(body[:5000], start|flush)
						out = bytes.Clone(out)
						if err == nil {
							var last []byte
							last, err = h.Handle(body[5000:], final)
							out = append(out, last...)
						}
					}
					if err != nil {
						errs <- err
						return
					}
					if dec, err := decodeErr(enc, out); err != nil || !bytes.Equal(dec, body) {
						errs <- fmt.Errorf("%s: decoded %d bytes, %v", enc, len(dec), err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
