package compress_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/lifeline-go/lifeline/compress"
)

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name string
		opts []compress.Option
		want error // nil: New succeeds
	}{
		{name: "defaults"},
		{name: "all set", opts: []compress.Option{compress.WithMinSize(0), compress.WithChunkSize(1 << 16),
			compress.WithGzipLevel(9), compress.WithZstdLevel(22), compress.WithBrotliLevel(0),
			compress.WithEncodings("GZIP", " br "), compress.WithContentTypes("text/*", "application/json", "*/*")}},
		{name: "nil option", opts: []compress.Option{nil}, want: compress.ErrInvalidOption},
		{name: "negative min size", opts: []compress.Option{compress.WithMinSize(-1)}, want: compress.ErrInvalidOption},
		{name: "negative chunk size", opts: []compress.Option{compress.WithChunkSize(-1)}, want: compress.ErrInvalidOption},
		{name: "gzip 0", opts: []compress.Option{compress.WithGzipLevel(0)}, want: compress.ErrInvalidLevel},
		{name: "gzip 10", opts: []compress.Option{compress.WithGzipLevel(10)}, want: compress.ErrInvalidLevel},
		{name: "zstd 0", opts: []compress.Option{compress.WithZstdLevel(0)}, want: compress.ErrInvalidLevel},
		{name: "zstd 23", opts: []compress.Option{compress.WithZstdLevel(23)}, want: compress.ErrInvalidLevel},
		{name: "brotli -1", opts: []compress.Option{compress.WithBrotliLevel(-1)}, want: compress.ErrInvalidLevel},
		{name: "brotli 12", opts: []compress.Option{compress.WithBrotliLevel(12)}, want: compress.ErrInvalidLevel},
		{name: "no encodings", opts: []compress.Option{compress.WithEncodings()}, want: compress.ErrInvalidOption},
		{name: "deflate", opts: []compress.Option{compress.WithEncodings("gzip", "deflate")}, want: compress.ErrUnknownEncoding},
		{name: "identity", opts: []compress.Option{compress.WithEncodings("identity")}, want: compress.ErrUnknownEncoding},
		{name: "twice", opts: []compress.Option{compress.WithEncodings("gzip", "GZIP")}, want: compress.ErrInvalidOption},
		{name: "no types", opts: []compress.Option{compress.WithContentTypes()}, want: compress.ErrInvalidOption},
		{name: "bad type", opts: []compress.Option{compress.WithContentTypes("text")}, want: compress.ErrInvalidOption},
		{name: "bad wildcard", opts: []compress.Option{compress.WithContentTypes("*/html")}, want: compress.ErrInvalidOption},
		{name: "type with params", opts: []compress.Option{compress.WithContentTypes("text/html; charset=utf-8")}, want: compress.ErrInvalidOption},
		{name: "nil predicate", opts: []compress.Option{compress.WithCompressible(nil)}, want: compress.ErrInvalidOption},
		{name: "nil predicate overridden", opts: []compress.Option{compress.WithCompressible(nil), compress.WithContentTypes("text/*")}},
		{name: "nil logger", opts: []compress.Option{compress.WithLogger(nil)}, want: compress.ErrInvalidOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := compress.New(tt.opts...)
			if tt.want == nil {
				if err != nil || c == nil {
					t.Fatalf("New = %v, %v; want a Compressor", c, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("New error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestEncodings(t *testing.T) {
	c, err := compress.New()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Encodings(), []string{"zstd", "br", "gzip"}; !slices.Equal(got, want) {
		t.Errorf("default Encodings() = %q, want %q", got, want)
	}
	c, err = compress.New(compress.WithEncodings("GZIP", " br"))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Encodings()
	if want := []string{"gzip", "br"}; !slices.Equal(got, want) {
		t.Errorf("Encodings() = %q, want %q", got, want)
	}
	got[0] = "changed"
	if c.Encodings()[0] != "gzip" {
		t.Error("Encodings() returned the Compressor's own slice")
	}
}
