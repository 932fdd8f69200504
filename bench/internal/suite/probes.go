package suite

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/lifeline-go/lifeline/bench/internal/stats"
)

// probesPkg is the package whose benchmarks measure P3 and P8.
const probesPkg = "./bench/internal/probes"

// runProbe runs one benchmark of the probes package once with the given
// -probes.* flags and returns the series it wrote, and the command line
// that reproduces it.
func (r *runner) runProbe(ctx context.Context, bench string, flags map[string]string) ([]stats.Series, string, error) {
	bin, err := r.binary(ctx, probesPkg)
	if err != nil {
		return nil, "", err
	}
	out := filepath.Join(r.tmp, bench+".json")
	args := []string{"-test.benchtime=1x", "-probes.out=" + out}
	shown := []string{"-benchtime", "1x", probesPkg, "-args", "-probes.out=FILE"}
	for _, k := range []string{"trials", "cap", "handoffs", "rounds"} {
		if v, ok := flags[k]; ok {
			args = append(args, "-probes."+k+"="+v)
			shown = append(shown, "-probes."+k+"="+v)
		}
	}
	pattern := "^" + bench + "$"
	cmd := "go test -run '^$' -bench '" + pattern + "' " + joinArgs(shown)
	if _, raw, err := bin.Run(ctx, pattern, args...); err != nil {
		return nil, cmd, fmt.Errorf("%w\n%s", err, tailString(raw, 3000))
	}
	series, err := stats.ReadSeries(out)
	return series, cmd, err
}

func itoa(n int) string { return strconv.Itoa(n) }

func tailString(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
