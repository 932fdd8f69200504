package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
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

// TestJSONReport writes the -json file and reads it back with the field
// names the benchmark suite (bench/internal/suite, P1) decodes.
func TestJSONReport(t *testing.T) {
	cfg := config{rounds: 2, dur: time.Second, warmup: 500 * time.Millisecond}
	g := &group{workload: "hello", proto: "h2c", rps: map[string][]float64{"bare": {100, 110}, "lifeline": {90, 99}},
		failures: []string{"chi round 1: 2 non-2xx"}}
	bd := &breakdown{workload: "hello", load: 4 * time.Second, categories: []string{"GC", "other"},
		by:    map[string]map[string]map[string]float64{"h1": {"bare": {"GC": 1}, "lifeline": {"GC": 1.5}}},
		total: map[string]map[string]float64{"h1": {"bare": 10, "lifeline": 12}}}
	file := filepath.Join(t.TempDir(), "peers.json")
	if err := writeJSON(file, newJSONReport(cfg, []*group{g}, bd, 400, 90*time.Second)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Rounds        int               `json:"rounds"`
		DurationS     float64           `json:"duration_s"`
		WarmupS       float64           `json:"warmup_s"`
		CPURounds     int               `json:"cpu_rounds"`
		LoadCommands  map[string]string `json:"load_commands"`
		VariantTitles map[string]string `json:"variant_titles"`
		Groups        []struct {
			Workload, Proto string
			RPS             map[string][]float64 `json:"rps"`
			Failures        []string             `json:"failures"`
		} `json:"groups"`
		Breakdown struct {
			LoadS      float64                                  `json:"load_s"`
			Categories []string                                 `json:"categories"`
			PerRequest map[string]map[string]map[string]float64 `json:"per_request_us"`
			Total      map[string]map[string]float64            `json:"total_us"`
		} `json:"breakdown"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	switch {
	case got.Rounds != 2 || got.DurationS != 1 || got.WarmupS != 0.5 || got.CPURounds != 400:
		t.Errorf("settings %+v", got)
	case got.LoadCommands["h2c"] != "taskset -c 1 h2load -t1 -c10 -m10 -D1 http://127.0.0.1:PORT/":
		t.Errorf("load commands %q", got.LoadCommands)
	case got.VariantTitles["chi"] != "chi Timeout+Recoverer" || got.VariantTitles["bare"] == "":
		t.Errorf("variant titles %q", got.VariantTitles)
	case len(got.Groups) != 1 || got.Groups[0].Proto != "h2c" || !slices.Equal(got.Groups[0].RPS["lifeline"], []float64{90, 99}) ||
		len(got.Groups[0].Failures) != 1:
		t.Errorf("groups %+v", got.Groups)
	case got.Breakdown.LoadS != 4 || got.Breakdown.PerRequest["h1"]["lifeline"]["GC"] != 1.5 || got.Breakdown.Total["h1"]["bare"] != 10 ||
		!slices.Equal(got.Breakdown.Categories, []string{"GC", "other"}):
		t.Errorf("breakdown %+v", got.Breakdown)
	}
}
