package plot_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/lifeline-go/lifeline/bench/internal/plot"
)

func ExampleCDF() {
	dir, _ := os.MkdirTemp("", "plot")
	defer os.RemoveAll(dir)
	err := plot.CDF(filepath.Join(dir, "p2-fin.png"), plot.Chart{
		Title:  "closed-client detection",
		XLabel: "latency (µs)",
		LogX:   true,
		Curves: []plot.Curve{
			{Name: "Lifeline", Values: []float64{20, 25, 31, 90}},
			{Name: "net/http", Values: []float64{15, math.Inf(1)}}, // one trial never noticed
		},
	})
	fmt.Println(err)
	// Output: <nil>
}
