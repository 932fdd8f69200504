package main

import (
	"io"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestVariants serves every workload through every variant over both
// protocols and checks status, body length and protocol, as the driver
// does before it measures.
func TestVariants(t *testing.T) {
	for _, p := range protos {
		for _, w := range workloads {
			for _, v := range variants {
				t.Run(v+"/"+w+"/"+p, func(t *testing.T) {
					srv, err := newServer(v, w, p, 10)
					if err != nil {
						t.Fatal(err)
					}
					ln, err := net.Listen("tcp", "127.0.0.1:0")
					if err != nil {
						t.Fatal(err)
					}
					go func() { _ = srv.Serve(ln) }()
					defer srv.Close()
					if err := check(t.Context(), "http://"+ln.Addr().String()+"/", p, bodyLen(w)); err != nil {
						t.Fatal(err)
					}
				})
			}
		}
	}
}

func TestBodyLen(t *testing.T) {
	want := map[string]int{"hello": 14, "4k": 4100, "1m": 1 << 20, "cpu": 1024}
	for w, n := range want {
		if got := bodyLen(w); got != n {
			t.Errorf("bodyLen(%s) = %d, want %d", w, got, n)
		}
	}
}

func TestH1RejectsH2c(t *testing.T) {
	srv, _ := newServer("bare", "hello", "h1", 0)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	res, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.ProtoMajor != 1 {
		t.Errorf("proto %s", res.Proto)
	}
}

func TestRotate(t *testing.T) {
	vs := []string{"a", "b", "c", "d"}
	want := [][]string{{"a", "b", "c", "d"}, {"a", "d", "c", "b"}, {"c", "d", "a", "b"}, {"c", "b", "a", "d"}}
	for r, w := range want {
		if got := rotate(vs, r); !slices.Equal(got, w) {
			t.Errorf("rotate(%d) = %v, want %v", r, got, w)
		}
	}
	// Every variant is first in some round of four.
	first := map[string]bool{}
	for r := range 4 {
		first[rotate(vs, r)[0]] = true
	}
	if len(first) < 2 {
		t.Errorf("order does not move: %v", first)
	}
}

func TestParse(t *testing.T) {
	wrk := "Running 2s test @ http://127.0.0.1:1/\n  1 threads and 32 connections\n" +
		"  170000 requests in 2.00s, 20MB read\n  Non-2xx or 3xx responses: 3\nRequests/sec:  85000.50\nTransfer/sec: 10MB\n"
	r, err := parseWrk(wrk)
	if err != nil || r.rps != 85000.5 || r.failed != "3 non-2xx" {
		t.Errorf("parseWrk = %+v, %v", r, err)
	}
	h2 := "finished in 2.00s, 55000.00 req/s, 3MB/s\n" +
		"requests: 110000 total, 110100 started, 110000 done, 110000 succeeded, 0 failed, 0 errored, 0 timeout\n" +
		"status codes: 110000 2xx, 0 3xx, 0 4xx, 0 5xx\n"
	r, err = parseH2load(h2)
	if err != nil || r.rps != 55000 || r.failed != "" {
		t.Errorf("parseH2load = %+v, %v", r, err)
	}
	if _, err := parseWrk("nothing"); err == nil {
		t.Error("parseWrk accepted no figure")
	}
}

func TestLoadArgs(t *testing.T) {
	if got := loadArgs("h1", "U", 500*time.Millisecond); !slices.Equal(got, []string{"wrk", "-t1", "-c32", "-d1s", "U"}) {
		t.Errorf("h1 %v", got)
	}
	if got := loadArgs("h2c", "U", 2*time.Second); !slices.Equal(got, []string{"h2load", "-t1", "-c10", "-m10", "-D2", "U"}) {
		t.Errorf("h2c %v", got)
	}
	if got := h2dur(500 * time.Millisecond); got != "500ms" {
		t.Errorf("h2dur %s", got)
	}
}
