package suite

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/lifeline-go/lifeline/bench/internal/gobench"
	"github.com/lifeline-go/lifeline/bench/internal/report"
	"github.com/lifeline-go/lifeline/bench/internal/stats"
)

const p7Goal = "compression MB/s ÷ the standard library's compress/gzip at the same level and payload ≥ 2× for gzip; " +
	"zstd and brotli shown against the same baseline, with the compressed sizes"

// The compress benchmarks P7 runs, their payloads, gzip levels and codecs.
const (
	p7Speedup  = "^BenchmarkGzipSpeedup$"
	p7Compress = "^BenchmarkCompress$/64K/"
)

var (
	p7Payloads = []string{"html-64K", "json-64K"}
	p7Levels   = []string{"1", "5", "6", "9"}
	p7Codecs   = []struct{ name, bench string }{
		{"gzip 5 (handler)", "gzip-5"}, {"zstd 1", "zstd-1"}, {"zstd 3 (default)", "zstd-3"},
		{"brotli 2", "br-2"}, {"brotli 4 (default)", "br-4"},
	}
)

// p7Figures are the per-round figures P7 collects.
type p7Figures struct {
	speed     map[string][]float64 // level/payload → gzip speed ratio per round
	sizeVsStd map[string][]float64 // level/payload → compressed size ÷ stdlib's
	vsStd     map[string][]float64 // codec/payload → MB/s ÷ stdlib gzip 5
	cbytes    map[string]float64   // codec/payload (or stdlib/payload) → compressed bytes
}

// p7 runs package compress's benchmarks in rounds: BenchmarkGzipSpeedup
// (the standard library and the handler alternating in one loop, at gzip
// levels 1, 5, 6 and 9) and BenchmarkCompress's 64 KiB cases (each coding
// and the standard library at the package's default gzip level).
func (r *runner) p7(ctx context.Context, s *report.Section) error {
	bin, err := r.binary(ctx, "./compress")
	if err != nil {
		return err
	}
	flags := []string{"-test.benchtime=" + r.sz.p7BenchTime}
	s.Commands = []string{r.suiteCommand("P7"),
		gobench.Command("./compress", p7Speedup, flags...) + "   # run once per round",
		gobench.Command("./compress", p7Compress, flags...) + "   # run once per round"}
	s.Method = []string{fmt.Sprintf("Package compress's own benchmarks, run %s each from one compiled test binary. "+
		"BenchmarkGzipSpeedup compresses the same 64 KiB body with compress/gzip and with the handler's gzip at the same level "+
		"in the same loop, alternating, and reports the ratio of their times. BenchmarkCompress runs each coding through the "+
		"whole output-handler path (negotiation, headers, one-shot compression) on the same bodies; its zstd and brotli MB/s are "+
		"divided by the standard library's gzip at level 5 (the package's default gzip level) from the same round.",
		report.Plural(r.sz.p7Rounds, "time"))}
	f := p7Figures{speed: map[string][]float64{}, sizeVsStd: map[string][]float64{}, vsStd: map[string][]float64{}, cbytes: map[string]float64{}}
	for range r.sz.p7Rounds {
		if err := f.collect(ctx, bin, flags); err != nil {
			return err
		}
	}
	f.report(s, gobench.Command("./compress", p7Speedup, flags...), gobench.Command("./compress", p7Compress, flags...))
	return nil
}

// collect runs both benchmarks once and adds their figures.
func (f *p7Figures) collect(ctx context.Context, bin *gobench.Binary, flags []string) error {
	res, _, err := bin.Run(ctx, p7Speedup, flags...)
	if err != nil {
		return err
	}
	for _, lv := range p7Levels {
		for _, p := range p7Payloads {
			name := "BenchmarkGzipSpeedup/level-" + lv + "/" + p
			got, ok := gobench.Find(res, name)
			if !ok {
				return fmt.Errorf("suite: no %s in the output", name)
			}
			f.speed[lv+"/"+p] = append(f.speed[lv+"/"+p], got.Metrics["speedup"])
			f.sizeVsStd[lv+"/"+p] = append(f.sizeVsStd[lv+"/"+p], got.Metrics["size-vs-std"])
		}
	}
	if res, _, err = bin.Run(ctx, p7Compress, flags...); err != nil {
		return err
	}
	for _, p := range p7Payloads {
		std, ok := gobench.Find(res, "BenchmarkCompress/"+p+"/stdlib-gzip-5")
		if !ok {
			return fmt.Errorf("suite: no BenchmarkCompress/%s/stdlib-gzip-5 in the output", p)
		}
		f.cbytes["stdlib/"+p] = std.Metrics["cbytes"]
		for _, c := range p7Codecs {
			got, ok := gobench.Find(res, "BenchmarkCompress/"+p+"/"+c.bench)
			if !ok {
				return fmt.Errorf("suite: no BenchmarkCompress/%s/%s in the output", p, c.bench)
			}
			f.vsStd[c.bench+"/"+p] = append(f.vsStd[c.bench+"/"+p], got.Metrics["MB/s"]/std.Metrics["MB/s"])
			f.cbytes[c.bench+"/"+p] = got.Metrics["cbytes"]
		}
	}
	return nil
}

// lowest returns the lowest median speed ratio over the levels and both
// payloads.
func (f *p7Figures) lowest(levels ...string) float64 {
	m := math.Inf(1)
	for _, lv := range levels {
		for _, p := range p7Payloads {
			m = math.Min(m, stats.Median(f.speed[lv+"/"+p]))
		}
	}
	return m
}

// report adds P7's tables and verdicts to s. The goal is judged at the
// package's default gzip level, 5, on both payloads.
func (f *p7Figures) report(s *report.Section, speedCmd, compressCmd string) {
	var rows [][]string
	for _, lv := range p7Levels {
		for _, p := range p7Payloads {
			k := lv + "/" + p
			rows = append(rows, []string{lv, p, report.Spread(f.speed[k], report.Fixed(2, "×")), fmt.Sprintf("%.3f", stats.Median(f.sizeVsStd[k]))})
		}
	}
	s.Tables = append(s.Tables, report.Table{
		Caption: "gzip, the handler against compress/gzip at the same level (BenchmarkGzipSpeedup):",
		Header:  []string{"level", "payload", "speed ratio", "compressed size ÷ stdlib's"},
		Rows:    rows,
	})
	s.Verdicts = append(s.Verdicts,
		report.Verdict{
			Measurement: "gzip MB/s ÷ compress/gzip at the package's default level 5, HTML and JSON 64 KiB (the lower median)",
			Figure:      fmt.Sprintf("%.2f×", f.lowest("5")),
			Goal:        "≥ 2×",
			Outcome:     report.AtLeast(f.lowest("5"), 2),
			Command:     speedCmd,
		},
		report.Verdict{
			Measurement: "gzip MB/s ÷ compress/gzip at levels 1, 6 and 9, same payloads (the lowest median)",
			Figure:      fmt.Sprintf("%.2f×", f.lowest("1", "6", "9")),
			Goal:        "shown",
			Outcome:     report.Info,
			Command:     speedCmd,
		})
	rows = nil
	for _, p := range p7Payloads {
		rows = append(rows, []string{p, "compress/gzip 5 (baseline)", "1×", strconv.FormatFloat(f.cbytes["stdlib/"+p], 'f', 0, 64)})
		for _, c := range p7Codecs {
			rows = append(rows, []string{p, c.name, report.Spread(f.vsStd[c.bench+"/"+p], report.Fixed(2, "×")),
				strconv.FormatFloat(f.cbytes[c.bench+"/"+p], 'f', 0, 64)})
		}
	}
	s.Tables = append(s.Tables, report.Table{
		Caption: "Every coding through the output handler, MB/s ÷ compress/gzip at level 5 on the same body, and compressed sizes in bytes (BenchmarkCompress):",
		Header:  []string{"payload", "coding and level", "speed ratio", "compressed bytes"},
		Rows:    rows,
	})
	for _, c := range p7Codecs[1:] {
		k := c.bench + "/html-64K"
		s.Verdicts = append(s.Verdicts, report.Verdict{
			Measurement: c.name + " MB/s ÷ compress/gzip 5, HTML 64 KiB (no goal; size " + strconv.FormatFloat(f.cbytes[k], 'f', 0, 64) +
				" B vs " + strconv.FormatFloat(f.cbytes["stdlib/html-64K"], 'f', 0, 64) + " B)",
			Figure:  report.Spread(f.vsStd[k], report.Fixed(2, "×")),
			Goal:    "shown",
			Outcome: report.Info,
			Command: compressCmd,
		})
	}
}
