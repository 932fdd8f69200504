package compress_test

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/compress"
	"github.com/lifeline-go/lifeline/internal/cstest"
	"github.com/lifeline-go/lifeline/output"
)

// TestSeedRecipeUnderCompression is the seed's early-close recipe as
// written ("ob_start(); echo …; header('Content-Length: '.ob_get_length());
// header('Connection: close'); ob_end_flush(); ob_flush(); flush();"),
// translated to Go, under the compression handler. In PHP, setting
// Content-Length switches compression off; here the answer arrives early,
// compressed, with the compressed length, while the run keeps working.
// HTTP/1.1 only: the recipe flushes but does not end the response, and an
// HTTP/2 stream ends only with END_STREAM, which Run.Finish sends.
func TestSeedRecipeUnderCompression(t *testing.T) {
	func(t *testing.T, m cstest.Mode) {
		pool, err := lifeline.NewPool()
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Shutdown(context.Background())
		c, err := compress.New(compress.WithEncodings("gzip"))
		if err != nil {
			t.Fatal(err)
		}
		message := strings.Repeat("We'll email you as soon as this is done. ", 100)
		release := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn, _ := lifeline.FromContext(r.Context())
			out := rn.Output()
			out.Start(nil, 0, output.StdFlags) // ob_start()
			io.WriteString(w, message)
			n, _ := out.Length()                              // ob_get_length()
			w.Header().Set("Content-Length", strconv.Itoa(n)) // header('Content-Length: '.$size)
			if m == cstest.H1 {
				w.Header().Set("Connection", "close")
			}
			out.EndFlush()    // ob_end_flush()
			out.Flush()       // ob_flush(): the compression level
			out.FlushClient() // flush()
			<-release         // background work
		})
		srv := cstest.Start(t, m, pool.Middleware()(c.Handler(h)), pool.ConfigureServer)
		defer close(release)
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		tr := srv.Client.Transport.(*http.Transport)
		tr.DisableCompression = true
		start := time.Now()
		res, err := srv.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("reading the early answer: %v", err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("answer took %v", took)
		}
		if res.Header.Get("Content-Encoding") != "gzip" || res.ContentLength != int64(len(raw)) {
			t.Fatalf("Content-Encoding %q, Content-Length %d, body %d bytes; want gzip with the compressed length",
				res.Header.Get("Content-Encoding"), res.ContentLength, len(raw))
		}
		zr, err := gzip.NewReader(strings.NewReader(string(raw)))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil || string(plain) != message {
			t.Errorf("decoded %d bytes (%v), want the message", len(plain), err)
		}
	}(t, cstest.H1)
}
