package gobench

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/lifeline-go/lifeline
cpu: AMD EPYC
BenchmarkOverhead/bare-2         	   20000	        38.82 ns/op	      16 B/op	       1 allocs/op
BenchmarkOverhead/lifeline-2     	   20000	     18612 ns/op	    1281 B/op	       7 allocs/op
BenchmarkCompress/html-64K/gzip-5-2         	     100	    214402 ns/op	 305.67 MB/s	      9209 cbytes	         0.1405 ratio
    bench_test.go:12: a log line
BenchmarkBroken-2 	 abc	 1 ns/op
PASS
ok  	github.com/lifeline-go/lifeline	7.805s
`

func TestParse(t *testing.T) {
	res, err := Parse(strings.NewReader(sample), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("got %d results, want 3: %+v", len(res), res)
	}
	tests := []struct {
		name   string
		unit   string
		want   float64
		wantN  int64
		wantOK bool
	}{
		{"BenchmarkOverhead/bare", "ns/op", 38.82, 20000, true},
		{"BenchmarkOverhead/lifeline", "allocs/op", 7, 20000, true},
		{"BenchmarkCompress/html-64K/gzip-5", "MB/s", 305.67, 100, true},
		{"BenchmarkCompress/html-64K/gzip-5", "cbytes", 9209, 100, true},
		{"BenchmarkBroken", "ns/op", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.unit, func(t *testing.T) {
			r, ok := Find(res, tt.name)
			if ok != tt.wantOK {
				t.Fatalf("Find(%q) ok = %v, want %v", tt.name, ok, tt.wantOK)
			}
			if ok && (r.Metrics[tt.unit] != tt.want || r.N != tt.wantN) {
				t.Errorf("%s: N %d, %s %v; want %d, %v", tt.name, r.N, tt.unit, r.Metrics[tt.unit], tt.wantN, tt.want)
			}
		})
	}
}

func TestParseProcs1(t *testing.T) {
	// With GOMAXPROCS 1 there is no suffix, and "-5" is part of the name.
	res, _ := Parse(strings.NewReader("BenchmarkX/gzip-5 \t 10 \t 3 ns/op\n"), 1)
	if len(res) != 1 || res[0].Name != "BenchmarkX/gzip-5" {
		t.Errorf("Parse = %+v, want BenchmarkX/gzip-5", res)
	}
}

func TestCommand(t *testing.T) {
	got := Command("./compress", "^BenchmarkGzipSpeedup$", "-test.benchtime=100x")
	want := "go test -run '^$' -bench '^BenchmarkGzipSpeedup$' -benchtime=100x ./compress"
	if got != want {
		t.Errorf("Command = %q, want %q", got, want)
	}
}

func TestBuildRun(t *testing.T) {
	repo, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bin, err := Build(ctx, repo, "./testdata/sample", filepath.Join(t.TempDir(), "sample.test"), 2)
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := bin.Run(ctx, "^BenchmarkSample$", "-test.benchtime=10x")
	if err != nil {
		t.Fatal(err)
	}
	r, ok := Find(res, "BenchmarkSample")
	if !ok || r.N != 10 || r.Metrics["answers"] != 42 {
		t.Errorf("results %+v, want BenchmarkSample with N 10 and 42 answers", res)
	}
	if _, _, err := bin.Run(ctx, "^BenchmarkNone$"); !errors.Is(err, ErrNoResults) {
		t.Errorf("Run(no match) = %v, want ErrNoResults", err)
	}
	if _, err := Build(ctx, repo, "./testdata/none", filepath.Join(t.TempDir(), "x.test"), 2); err == nil {
		t.Error("Build of a missing package: nil error")
	}
}
