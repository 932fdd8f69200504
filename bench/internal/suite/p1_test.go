package suite

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/lifeline-go/lifeline/bench/internal/report"
)

func TestP1Against(t *testing.T) {
	tests := []struct {
		life, peer float64
		word       string
		want       report.Outcome
	}{
		{0.97, 0.80, "ahead", report.Met},
		{0.90, 0.90, "level", report.Met},
		{0.85, 0.93, "level", report.Met}, // exactly the noise
		{0.85, 0.94, "behind", report.NotMet},
		{0.95, 0.87, "level", report.Met},
	}
	for _, tt := range tests {
		text, got := p1Against(tt.life, tt.peer)
		if got != tt.want || !strings.Contains(text, tt.word) {
			t.Errorf("p1Against(%.2f, %.2f) = %q, %v; want %s, %v", tt.life, tt.peer, text, got, tt.word, tt.want)
		}
	}
}

func TestP1RatioGoal(t *testing.T) {
	for _, tt := range []struct {
		w, p string
		want float64
	}{{"hello", "h1", 0.93}, {"hello", "h2c", 0.90}, {"4k", "h1", 0.97}, {"1m", "h2c", 0.97}, {"cpu", "h1", 0.97}} {
		if got := p1RatioGoal(tt.w, tt.p); got != tt.want {
			t.Errorf("p1RatioGoal(%s, %s) = %.2f, want %.2f", tt.w, tt.p, got, tt.want)
		}
	}
}

// p1SampleJSON is what the peers driver writes (benchpeers/cmd/driver,
// jsonReport), cut down to two cells.
const p1SampleJSON = `{
  "rounds": 3, "duration_s": 1, "warmup_s": 1, "cpu_rounds": 400, "elapsed_s": 61,
  "variants": ["bare", "lifeline", "timeouthandler", "chi"],
  "load_commands": {"h1": "taskset -c 1 wrk -t1 -c32 -d1s http://127.0.0.1:PORT/", "h2c": "taskset -c 1 h2load -t1 -c10 -m10 -D1 http://127.0.0.1:PORT/"},
  "variant_titles": {"bare": "bare net/http", "lifeline": "Lifeline", "timeouthandler": "http.TimeoutHandler", "chi": "chi Timeout+Recoverer"},
  "workload_titles": {"hello": "hello (14 B)", "1m": "1 MB in 32 KB writes"},
  "groups": [
    {"workload": "hello", "proto": "h1", "rps": {"bare": [100, 100, 100], "lifeline": [95, 94, 96], "timeouthandler": [90, 91, 80], "chi": [99, 97, 98]}, "failures": null},
    {"workload": "1m", "proto": "h2c", "rps": {"bare": [10, 10, 10], "lifeline": [8.5, 8, 9], "timeouthandler": [7, 7.5, 7.7], "chi": [10, 10, 10.2]}, "failures": ["chi round 2: 3 non-2xx"]}
  ],
  "breakdown": {"workload": "hello", "load_s": 4, "categories": ["write syscall", "other"],
    "per_request_us": {"h1": {"bare": {"write syscall": 6.5}, "lifeline": {"write syscall": 7, "other": 0.25}},
                       "h2c": {"bare": {"write syscall": 6}, "lifeline": {"write syscall": 11.9}}},
    "total_us": {"h1": {"bare": 10, "lifeline": 12}, "h2c": {"bare": 11, "lifeline": 16}}}
}`

func TestP1Render(t *testing.T) {
	var p p1Peers
	if err := json.Unmarshal([]byte(p1SampleJSON), &p); err != nil {
		t.Fatal(err)
	}
	s := &report.Section{}
	if err := p1Render(s, &p, "cd benchpeers && go run ./cmd/driver"); err != nil {
		t.Fatal(err)
	}
	if len(s.Verdicts) != 2 {
		t.Fatalf("%d verdicts, want one per cell (2)", len(s.Verdicts))
	}
	// hello/h1: 0.95 ≥ 0.93, ahead of TimeoutHandler (0.90 is level), level with chi (0.98).
	if v := s.Verdicts[0]; v.Outcome != report.Met || !strings.Contains(v.Figure, "0.95") || !strings.Contains(v.Goal, "0.93") {
		t.Errorf("hello/h1 verdict %+v", v)
	}
	// 1m/h2c: 0.85 < 0.97 and behind chi (1.00) by 0.15.
	if v := s.Verdicts[1]; v.Outcome != report.NotMet || !strings.Contains(v.Figure, "behind") {
		t.Errorf("1m/h2c verdict %+v", v)
	}
	if len(s.Tables) != 3 {
		t.Fatalf("%d tables, want the ratios, the goals and the breakdown", len(s.Tables))
	}
	ratios, goals, bd := s.Tables[0], s.Tables[1], s.Tables[2]
	if got := ratios.Rows[0]; got[0] != "hello (14 B) / h1" || got[1] != "0.95 (0.94–0.96)" || got[4] != "100" {
		t.Errorf("ratio row %q", got)
	}
	if got := goals.Rows[1]; !strings.Contains(got[3], "not met") || !strings.Contains(got[5], "behind") || got[6] != report.NotMet.String() {
		t.Errorf("goal row %q", got)
	}
	if got := bd.Rows[0]; got[0] != "write syscall" || got[4] != "6.00" || got[5] != "11.90" || got[6] != "+5.90" {
		t.Errorf("breakdown row %q", got)
	}
	if last := bd.Rows[len(bd.Rows)-1]; last[3] != "+2.00" || last[6] != "+5.00" {
		t.Errorf("breakdown total %q", last)
	}
	if !strings.Contains(strings.Join(s.Notes, " "), "3 non-2xx") {
		t.Errorf("notes do not report the failure: %q", s.Notes)
	}
	if len(s.Commands) != 3 {
		t.Errorf("commands %q, want the driver and both load tools", s.Commands)
	}
}

// p1SampleInstr is what `driver instr -json` writes (benchpeers/cmd/driver,
// instrReport), cut down to two cells.
const p1SampleInstr = `{
  "n": 4000, "warm": 300, "cpu_rounds": 344, "elapsed_s": 185.4,
  "variants": ["bare", "lifeline", "timeouthandler", "chi"],
  "variant_titles": {"bare": "bare net/http", "lifeline": "Lifeline", "timeouthandler": "http.TimeoutHandler", "chi": "chi Timeout+Recoverer"},
  "workload_titles": {"hello": "hello (14 B)", "1m": "1 MB in 32 KB writes"},
  "commands": ["GODEBUG=asyncpreemptoff=1 taskset -c 0 valgrind --tool=callgrind driver serve", "callgrind_control -z PID; h2load; callgrind_control -d PID"],
  "syscall_columns": ["write", "read", "epoll_pwait", "futex", "nanosleep", "other", "total"],
  "syscall_groups": {"write": "write", "writev": "write", "read": "read", "epoll_pwait": "epoll_pwait", "futex": "futex", "nanosleep": "nanosleep"},
  "cells": [
    {"workload": "hello", "proto": "h1", "requests": 4000,
     "instructions": {"bare": 35644, "lifeline": 43289.4, "timeouthandler": 51360, "chi": 47004},
     "syscalls": {"bare": {"write": 1, "read": 1.5, "close": 0.008, "accept4": 0.008, "total": 2.516},
                  "lifeline": {"write": 0.5, "writev": 0.5, "read": 1.25, "futex": 0.1, "total": 2.35}},
     "failures": null},
    {"workload": "1m", "proto": "h2c", "requests": 80,
     "instructions": {"bare": 1200000, "lifeline": 1150000, "timeouthandler": 2400000, "chi": 1300000},
     "failures": ["chi server stderr under valgrind: http: panic serving"]}
  ]
}`

func TestP1RenderInstr(t *testing.T) {
	var in p1Instr
	if err := json.Unmarshal([]byte(p1SampleInstr), &in); err != nil {
		t.Fatal(err)
	}
	s := &report.Section{}
	if err := p1RenderInstr(s, &in, "cd benchpeers && go run ./cmd/driver instr -n 4000 -warm 300"); err != nil {
		t.Fatal(err)
	}
	if len(s.Tables) != 2 {
		t.Fatalf("%d tables, want instructions and syscalls", len(s.Tables))
	}
	instr, sys := s.Tables[0], s.Tables[1]
	wantHeader := []string{"workload / protocol", "N", "bare net/http", "Lifeline", "http.TimeoutHandler", "chi Timeout+Recoverer", "Lifeline extra"}
	if strings.Join(instr.Header, "|") != strings.Join(wantHeader, "|") {
		t.Errorf("instructions header %q", instr.Header)
	}
	wantRows := [][]string{
		{"hello (14 B) / h1", "4000", "35,644", "43,289 (1.214)", "51,360 (1.441)", "47,004 (1.319)", "+7,645"},
		{"1 MB in 32 KB writes / h2c", "80", "1,200,000", "1,150,000 (0.958)", "2,400,000 (2.000)", "1,300,000 (1.083)", "-50,000"},
	}
	for i, want := range wantRows {
		if strings.Join(instr.Rows[i], "|") != strings.Join(want, "|") {
			t.Errorf("instructions row %d %q, want %q", i, instr.Rows[i], want)
		}
	}
	// Syscalls: only the cell that has them, one row per variant counted;
	// writev is a write, close and accept4 are other.
	if len(sys.Rows) != 2 {
		t.Fatalf("syscall rows %q", sys.Rows)
	}
	if got := sys.Rows[0]; strings.Join(got, "|") != "hello (14 B) / h1|bare net/http|1.00|1.50|0.00|0.00|0.00|0.02|2.52" {
		t.Errorf("bare syscalls %q", got)
	}
	if got := sys.Rows[1]; got[1] != "Lifeline" || got[2] != "1.00" || got[5] != "0.10" || got[8] != "2.35" {
		t.Errorf("Lifeline syscalls %q", got)
	}
	if !strings.Contains(instr.Caption, "instr -n 4000 -warm 300") {
		t.Errorf("caption does not give the command: %q", instr.Caption)
	}
	if len(s.Commands) != 3 || !strings.Contains(s.Commands[0], "-json FILE") {
		t.Errorf("commands %q, want the driver's and the two it runs per variant", s.Commands)
	}
	notes := strings.Join(s.Notes, " ")
	if !strings.Contains(notes, "panic serving") {
		t.Errorf("notes do not report the server's message: %q", notes)
	}
	if method := strings.Join(s.Method, " "); !strings.Contains(method, "overstate") || !strings.Contains(method, "300 requests of warm-up") {
		t.Errorf("method does not say the warm-up or which way valgrind biases the counts: %q", method)
	}

	in.Cells[0].Instructions = map[string]float64{"lifeline": 1}
	if err := p1RenderInstr(&report.Section{}, &in, "x"); err == nil {
		t.Error("a cell without bare rendered")
	}
}

func TestP1Thousands(t *testing.T) {
	for x, want := range map[float64]string{0: "0", 12: "12", 1000: "1,000", 43289.4: "43,289", 1234567: "1,234,567", -50000: "-50,000", -0.2: "0"} {
		if got := p1Thousands(x); got != want {
			t.Errorf("p1Thousands(%v) = %q, want %q", x, got, want)
		}
	}
}
