package compress_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/compress"
)

func ExampleNew() {
	c, err := compress.New()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Encodings())
	// Output: [zstd br gzip]
}

// New validates the options once and says what is wrong.
func ExampleNew_options() {
	c, err := compress.New(
		compress.WithEncodings("br", "gzip"),
		compress.WithGzipLevel(6),
		compress.WithBrotliLevel(5),
		compress.WithMinSize(512),
		compress.WithContentTypes("text/*", "application/json", "image/svg+xml"),
	)
	fmt.Println(c.Encodings(), err)

	_, err = compress.New(compress.WithEncodings("gzip", "deflate"))
	fmt.Println(err)
	// Output:
	// [br gzip] <nil>
	// compress: unknown encoding: "deflate"
}

func ExampleNegotiate() {
	supported := []string{"zstd", "br", "gzip"}
	for _, ae := range []string{
		"gzip, deflate, br",              // equal weights: the server's order
		"br;q=0.5, gzip",                 // the client's weights first
		"*;q=0.1, zstd;q=0",              // zstd refused, the rest allowed
		"deflate",                        // nothing we offer
		"gzip;q=2, br;q=abc, x-gzip;q=1", // malformed elements ignored
	} {
		fmt.Printf("%-32q %q\n", ae, compress.Negotiate(ae, supported))
	}
	// Output:
	// "gzip, deflate, br"              "br"
	// "br;q=0.5, gzip"                 "gzip"
	// "*;q=0.1, zstd;q=0"              "br"
	// "deflate"                        ""
	// "gzip;q=2, br;q=abc, x-gzip;q=1" "gzip"
}

// WithCompressible can build on Compressible, here to leave server-sent
// events uncompressed as well.
func ExampleWithCompressible() {
	c, err := compress.New(compress.WithCompressible(func(ct string) bool {
		return compress.Compressible(ct) && !strings.HasPrefix(ct, "text/event-stream")
	}))
	fmt.Println(c != nil, err)
	// Output: true <nil>
}

func ExampleCompressor_Encodings() {
	c, err := compress.New(compress.WithEncodings("GZIP", "zstd"), compress.WithZstdLevel(1))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Encodings())
	// Output: [gzip zstd]
}

func ExampleCompressible() {
	for _, ct := range []string{"text/html; charset=utf-8", "application/json", "image/svg+xml", "image/png", "application/zip"} {
		fmt.Println(ct, compress.Compressible(ct))
	}
	// Output:
	// text/html; charset=utf-8 true
	// application/json true
	// image/svg+xml true
	// image/png false
	// application/zip false
}

// The middleware goes inside Lifeline's: each response is compressed and,
// being known in full at the end of the run, gets its exact compressed
// length.
func ExampleCompressor_Handler() {
	pool, err := lifeline.NewPool()
	if err != nil {
		log.Fatal(err)
	}
	c, err := compress.New()
	if err != nil {
		log.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, strings.Repeat("Hello, compressed world.\n", 100))
	})
	srv := httptest.NewServer(pool.Middleware()(c.Handler(app)))
	defer srv.Close()
	defer pool.Shutdown(context.Background())

	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := srv.Client().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	zr, _ := gzip.NewReader(strings.NewReader(string(raw)))
	body, _ := io.ReadAll(zr)

	fmt.Println(res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
	fmt.Println(res.ContentLength == int64(len(raw)), len(raw) < len(body))
	fmt.Print(string(body[:25]))
	// Output:
	// gzip Accept-Encoding
	// true true
	// Hello, compressed world.
}

// Start compresses one response from inside a handler, here only for the
// report route: the rest of the application is served as it is.
func ExampleCompressor_Start() {
	c, err := compress.New()
	if err != nil {
		log.Fatal(err)
	}
	report := func(w http.ResponseWriter, r *http.Request) {
		if rn, ok := lifeline.FromContext(r.Context()); ok {
			if err := c.Start(rn.Output(), r); err != nil {
				log.Print(err)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"rows":[`+strings.Repeat(`{"id":1,"name":"order"},`, 200)+`{}]}`)
	}
	pool, err := lifeline.NewPool()
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(pool.Middleware()(http.HandlerFunc(report)))
	defer srv.Close()
	defer pool.Shutdown(context.Background())

	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept-Encoding", "zstd;q=0.8, br")
	res, err := srv.Client().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	fmt.Println(res.Header.Get("Content-Encoding"))
	// Output: br
}
