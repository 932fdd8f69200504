package suite

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// machineInfo describes the machine the suite runs on.
type machineInfo struct {
	cpu      string
	cores    int
	memTotal int64 // bytes
	kernel   string
	load     string // the three load averages
}

func machine() machineInfo {
	m := machineInfo{cpu: "unknown CPU", cores: runtime.NumCPU(), load: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	m.memTotal = meminfo("MemTotal")
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.load = strings.Join(f[:3], " ")
		}
	}
	return m
}

func (m machineInfo) describe() string {
	return fmt.Sprintf("%s, %d cores, %.1f GiB RAM, %s, %s %s/%s", m.cpu, m.cores, float64(m.memTotal)/(1<<30),
		m.kernel, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// meminfo returns a /proc/meminfo field in bytes, 0 if unknown.
func meminfo(field string) int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
