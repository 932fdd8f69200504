package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// jsonReport is what -json writes: the run's settings, every round's
// requests/s by variant for each workload and protocol, and the CPU
// breakdown. The benchmark suite (bench/internal/suite, P1) reads it, so
// a change here is a change there.
type jsonReport struct {
	Rounds         int               `json:"rounds"`
	DurationS      float64           `json:"duration_s"` // one load run
	WarmupS        float64           `json:"warmup_s"`
	CPURounds      int               `json:"cpu_rounds"` // SHA-256 rounds of the cpu workload
	ElapsedS       float64           `json:"elapsed_s"`
	Variants       []string          `json:"variants"`      // "bare" first
	LoadCommands   map[string]string `json:"load_commands"` // by protocol, as run pinned to CPU 1
	Groups         []jsonGroup       `json:"groups"`
	Breakdown      *jsonBreakdown    `json:"breakdown,omitempty"`
	VariantTitles  map[string]string `json:"variant_titles"`
	WorkloadTitles map[string]string `json:"workload_titles"`
}

// jsonGroup is one workload over one protocol.
type jsonGroup struct {
	Workload string               `json:"workload"`
	Proto    string               `json:"proto"`
	RPS      map[string][]float64 `json:"rps"`      // by variant, one per round
	Failures []string             `json:"failures"` // errors, non-2xx, server messages
}

// jsonBreakdown is CPU µs per request by category, bare and Lifeline.
type jsonBreakdown struct {
	Workload   string                                   `json:"workload"`
	LoadS      float64                                  `json:"load_s"`
	Categories []string                                 `json:"categories"`
	PerRequest map[string]map[string]map[string]float64 `json:"per_request_us"` // protocol → variant → category → µs
	Total      map[string]map[string]float64            `json:"total_us"`       // protocol → variant → µs
}

func newJSONReport(cfg config, groups []*group, bd *breakdown, cpuRounds int, elapsed time.Duration) jsonReport {
	rep := jsonReport{
		Rounds: cfg.rounds, DurationS: cfg.dur.Seconds(), WarmupS: cfg.warmup.Seconds(),
		CPURounds: cpuRounds, ElapsedS: elapsed.Seconds(), Variants: variants,
		LoadCommands:   map[string]string{},
		VariantTitles:  map[string]string{"bare": "bare net/http"},
		WorkloadTitles: workloadTitle,
	}
	for _, c := range columns {
		rep.VariantTitles[c.variant] = c.title
	}
	for _, p := range protos {
		rep.LoadCommands[p] = strings.Join(append([]string{"taskset", "-c", "1"}, loadArgs(p, "http://127.0.0.1:PORT/", cfg.dur)...), " ")
	}
	for _, g := range groups {
		rep.Groups = append(rep.Groups, jsonGroup{Workload: g.workload, Proto: g.proto, RPS: g.rps, Failures: g.failures})
	}
	if bd != nil {
		rep.Breakdown = &jsonBreakdown{Workload: bd.workload, LoadS: bd.load.Seconds(), Categories: bd.categories,
			PerRequest: bd.by, Total: bd.total}
	}
	return rep
}

func writeJSON(path string, rep jsonReport) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}
