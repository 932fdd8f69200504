package main

import (
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/testenv"
)

// A dump as callgrind_control -d writes it (cut down).
const sampleDump = `# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 9335
cmd:  /tmp/driver serve -variant bare -workload hello -proto h1
part: 1

desc: Trigger: dump

positions: line
events: Ir
summary: 176214969

ob=(1) /tmp/driver
fl=(1) ???
fn=(1) runtime.main
0 12

totals: 176215074
`

func TestParseCallgrindSummary(t *testing.T) {
	got, err := parseCallgrindSummary([]byte(sampleDump))
	if err != nil || got != 176214969 {
		t.Errorf("parseCallgrindSummary = %d, %v; want the summary line, 176214969", got, err)
	}
	noSummary := strings.Replace(sampleDump, "summary: 176214969\n", "", 1)
	if got, err := parseCallgrindSummary([]byte(noSummary)); err != nil || got != 176215074 {
		t.Errorf("without summary = %d, %v; want the totals line", got, err)
	}
	if _, err := parseCallgrindSummary([]byte("events: Ir\n")); !errors.Is(err, errNoSummary) {
		t.Errorf("empty dump: %v, want errNoSummary", err)
	}
}

// What strace 6.1 writes with -c -o FILE (cut down).
const sampleStrace = `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ------------------
 47.82    0.254271        2825        90         4 futex
 22.70    0.120687         157       767           nanosleep
 16.68    0.088706          44      2002           write
 10.65    0.056644          23      2442       338 read
  0.46    0.002430          30        81           epoll_pwait
  0.26    0.001366          21        64           epoll_ctl
  0.03    0.000169         169         1           restart_syscall
------ ----------- ----------- --------- --------- ------------------
100.00    0.531719          92      5447       342 total
`

func TestParseStraceSummary(t *testing.T) {
	got, err := parseStraceSummary(strings.NewReader(sampleStrace))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"futex": 90, "nanosleep": 767, "write": 2002, "read": 2442, "epoll_pwait": 81,
		"epoll_ctl": 64, "restart_syscall": 1, "total": 5447}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"", "strace: attach: ptrace(PTRACE_SEIZE, 1): Operation not permitted\n",
		"% time     seconds  usecs/call     calls    errors syscall\n 1.00 0.1 2 many 0 write\n"} {
		if _, err := parseStraceSummary(strings.NewReader(bad)); err == nil {
			t.Errorf("parseStraceSummary(%q) accepted it", bad)
		}
	}
}

func TestInstrGrouped(t *testing.T) {
	per := map[string]float64{"write": 1, "writev": 0.5, "read": 2, "recvfrom": 0.25, "epoll_pwait": 0.1,
		"futex": 0.2, "nanosleep": 0.3, "epoll_ctl": 0.05, "close": 0.05, "total": 4.45}
	got := instrGrouped(per)
	want := map[string]float64{"write": 1.5, "read": 2.25, "epoll_pwait": 0.1, "futex": 0.2, "nanosleep": 0.3,
		"other": 0.1, "total": 4.45}
	for _, col := range instrSyscallColumns {
		if d := got[col] - want[col]; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s = %v, want %v", col, got[col], want[col])
		}
	}
}

func TestCheckCount(t *testing.T) {
	out := func(total, done, ok, failed, xx2, xx5 int) string {
		return "finished in 1.00s, 1000.00 req/s, 3MB/s\n" +
			"requests: " + strconv.Itoa(total) + " total, " + strconv.Itoa(total) + " started, " + strconv.Itoa(done) + " done, " +
			strconv.Itoa(ok) + " succeeded, " + strconv.Itoa(failed) + " failed, 0 errored, 0 timeout\n" +
			"status codes: " + strconv.Itoa(xx2) + " 2xx, 0 3xx, 0 4xx, " + strconv.Itoa(xx5) + " 5xx\n"
	}
	tests := []struct {
		name string
		out  string
		ok   bool
	}{
		{"all answered", out(1000, 1000, 1000, 0, 1000, 0), true},
		{"some 5xx", out(1000, 1000, 1000, 0, 990, 10), false},
		{"some failed", out(1000, 1000, 990, 10, 990, 0), false},
		{"fewer done", out(1000, 990, 990, 0, 990, 0), false},
		{"another count", out(500, 500, 500, 0, 500, 0), false},
		{"no output", "", false},
	}
	for _, tt := range tests {
		err := checkCount(tt.out, 1000)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, errNotAllServed)) {
			t.Errorf("%s: checkCount = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func TestInstrRequests(t *testing.T) {
	for _, tt := range []struct {
		n        int
		workload string
		want     int
	}{{4000, "hello", 4000}, {4000, "4k", 1000}, {4000, "cpu", 500}, {4000, "1m", 200}, {200, "1m", 64}, {10, "hello", 64}} {
		if got := instrRequests(tt.n, tt.workload); got != tt.want {
			t.Errorf("instrRequests(%d, %s) = %d, want %d", tt.n, tt.workload, got, tt.want)
		}
	}
}

func TestInstrLoadArgs(t *testing.T) {
	if got := instrLoadArgs("h1", "U", 100); !slices.Equal(got, []string{"h2load", "--h1", "-t1", "-c32", "-n", "100", "U"}) {
		t.Errorf("h1 %v", got)
	}
	if got := instrLoadArgs("h2c", "U", 100); !slices.Equal(got, []string{"h2load", "-t1", "-c10", "-m10", "-n", "100", "U"}) {
		t.Errorf("h2c %v", got)
	}
}

func TestInstrTable(t *testing.T) {
	rep := newInstrReport(instrConfig{n: 4000, warm: 300, strace: true}, []instrCell{{
		Workload: "hello", Proto: "h1", Requests: 4000,
		Instructions: map[string]float64{"bare": 35000, "lifeline": 43500, "timeouthandler": 48000, "chi": 34000},
		Syscalls: map[string]map[string]float64{"bare": {"write": 1, "read": 2, "close": 0.01, "total": 3.01},
			"lifeline": {"write": 1, "total": 1}},
	}}, 0)
	header, rows := instrTable(rep)
	if len(header) != 7 || len(rows) != 1 {
		t.Fatalf("header %q rows %q", header, rows)
	}
	want := []string{"hello (14 B) / h1", "4000", "35,000", "43,500 (1.243)", "48,000 (1.371)", "34,000 (0.971)", "+8,500"}
	if !slices.Equal(rows[0], want) {
		t.Errorf("row %q, want %q", rows[0], want)
	}
	rep.Cells[0].Instructions["lifeline"] = 34000
	if _, rows := instrTable(rep); rows[0][6] != "-1,000" {
		t.Errorf("negative extra %q", rows[0][6])
	}
	header, rows = instrSyscallTable(rep)
	if len(rows) != 4 || header[2] != "write" || rows[0][1] != "bare net/http" || rows[0][7] != "0.01" || rows[0][8] != "3.01" {
		t.Errorf("syscall table %q %q", header, rows)
	}
}

func TestThousands(t *testing.T) {
	for x, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567", -4500: "-4,500"} {
		if got := thousands(x); got != want {
			t.Errorf("thousands(%v) = %q, want %q", x, got, want)
		}
	}
}

func TestTracerPid(t *testing.T) {
	if got := tracerPid([]byte("Name:\tdriver\nState:\tS (sleeping)\nTracerPid:\t4321\nUid:\t0\n")); got != "4321" {
		t.Errorf("tracerPid = %q", got)
	}
}

func TestInterrupted(t *testing.T) {
	err := exec.Command("sh", "-c", "kill -INT $$").Run()
	if !interrupted(err) {
		t.Errorf("kill -INT: interrupted(%v) = false", err)
	}
	err = exec.Command("sh", "-c", "exit 3").Run()
	if interrupted(err) || interrupted(nil) {
		t.Errorf("exit 3: interrupted(%v) = true", err)
	}
}

// TestInstrMeasures runs both counts on the bare hello server over both
// protocols with a driver built without -race (the race detector does not
// run under valgrind): a hello response over HTTP/1.1 is one write
// syscall, and a request costs the server some thousands of instructions.
func TestInstrMeasures(t *testing.T) {
	testenv.MustHaveExec(t, testenv.H2load, "apt-get install -y nghttp2-client", "h2load")
	testenv.MustHaveExec(t, "valgrind", "apt-get install -y valgrind", "valgrind")
	testenv.MustHaveExec(t, "valgrind", "apt-get install -y valgrind", "callgrind_control")
	testenv.MustHaveExec(t, "strace", "apt-get install -y strace", "strace")
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Skip("needs taskset (util-linux)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "driver")
	if out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	cfg := instrConfig{warm: 20, self: bin, dir: dir, strace: true}
	const n = 100
	for _, proto := range protos {
		t.Run(proto, func(t *testing.T) {
			serve := []string{bin, "serve", "-variant", "bare", "-workload", "hello", "-proto", proto}
			ir, msg, err := instrCallgrind(t.Context(), cfg, serve, proto, bodyLen("hello"), n)
			if err != nil || msg != "" {
				t.Fatalf("instrCallgrind: %v (server stderr %q)", err, msg)
			}
			if ir < 5000 || ir > 1e6 {
				t.Errorf("%.0f instructions per request, want thousands", ir)
			}
			sc, msg, err := instrStrace(t.Context(), cfg, serve, proto, bodyLen("hello"), n)
			if err != nil || msg != "" {
				t.Fatalf("instrStrace: %v (server stderr %q)", err, msg)
			}
			g := instrGrouped(sc)
			if proto == "h1" && (g["write"] < 0.99 || g["write"] > 1.01) {
				t.Errorf("h1: %.2f writes per request, want 1 (%v)", g["write"], sc)
			}
			if g["write"] < 0.2 || g["read"] < 0.2 || g["total"] < g["write"]+g["read"] {
				t.Errorf("syscalls per request %v", g)
			}
		})
	}
}

// TestInstrJSON reads the -json output back with the field names the
// benchmark suite (bench/internal/suite, p1Instr) decodes, and checks the
// commands it shows.
func TestInstrJSON(t *testing.T) {
	rep := newInstrReport(instrConfig{n: 4000, warm: 300, strace: true, cpuRounds: 350}, []instrCell{{
		Workload: "hello", Proto: "h2c", Requests: 4000,
		Instructions: map[string]float64{"bare": 93995, "lifeline": 101698},
		Syscalls:     map[string]map[string]float64{"bare": {"write": 0.95, "total": 3.23}},
		Failures:     []string{"chi server stderr under valgrind: x"},
	}}, 200*time.Second)
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		N              int               `json:"n"`
		Warm           int               `json:"warm"`
		CPURounds      int               `json:"cpu_rounds"`
		ElapsedS       float64           `json:"elapsed_s"`
		Variants       []string          `json:"variants"`
		VariantTitles  map[string]string `json:"variant_titles"`
		WorkloadTitles map[string]string `json:"workload_titles"`
		Commands       []string          `json:"commands"`
		SyscallColumns []string          `json:"syscall_columns"`
		SyscallGroups  map[string]string `json:"syscall_groups"`
		Cells          []struct {
			Workload     string                        `json:"workload"`
			Proto        string                        `json:"proto"`
			Requests     int                           `json:"requests"`
			Instructions map[string]float64            `json:"instructions"`
			Syscalls     map[string]map[string]float64 `json:"syscalls"`
			Failures     []string                      `json:"failures"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	switch {
	case got.N != 4000 || got.Warm != 300 || got.CPURounds != 350 || got.ElapsedS != 200:
		t.Errorf("settings %+v", got)
	case !slices.Equal(got.Variants, variants) || got.VariantTitles["chi"] != "chi Timeout+Recoverer" || got.WorkloadTitles["hello"] != "hello (14 B)":
		t.Errorf("titles %v %v %v", got.Variants, got.VariantTitles, got.WorkloadTitles)
	case !slices.Equal(got.SyscallColumns, instrSyscallColumns) || got.SyscallGroups["writev"] != "write":
		t.Errorf("syscall columns %v %v", got.SyscallColumns, got.SyscallGroups)
	case len(got.Cells) != 1 || got.Cells[0].Instructions["lifeline"] != 101698 || got.Cells[0].Syscalls["bare"]["write"] != 0.95 ||
		got.Cells[0].Requests != 4000 || len(got.Cells[0].Failures) != 1:
		t.Errorf("cells %+v", got.Cells)
	}
	cmds := strings.Join(got.Commands, "\n")
	for _, want := range []string{instrGodebug + " taskset -c 0 valgrind --tool=callgrind", "-cpurounds 350",
		"callgrind_control -z PID; taskset -c 1 h2load --h1 -t1 -c32 -n 4000 URL; callgrind_control -d PID",
		"h2load -t1 -c10 -m10 -n 4000 URL", "strace -c -f -p PID"} {
		if !strings.Contains(cmds, want) {
			t.Errorf("commands lack %q:\n%s", want, cmds)
		}
	}
}
