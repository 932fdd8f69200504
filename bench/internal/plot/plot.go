// Package plot draws the suite's latency distributions as PNG files with
// gonum.org/v1/plot: one empirical cumulative distribution per series, so
// that a Lifeline series and its baseline can be compared at every
// quantile on one chart.
package plot

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"slices"
	"strconv"

	gonum "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// ErrNoData is returned by [CDF] when no curve has a finite value to draw.
var ErrNoData = errors.New("plot: nothing to draw")

// Curve is one distribution on a chart.
type Curve struct {
	// Name is the legend's label.
	Name string
	// Values are the samples. Infinite values are trials never observed:
	// they count in the total, so the curve stops below 1 by their share.
	Values []float64
}

// Chart describes one chart.
type Chart struct {
	Title  string
	XLabel string // including the unit, as "latency (µs)"
	// LogX draws the x axis on a log scale (values ≤ 0 are raised to the
	// smallest positive value drawn).
	LogX   bool
	Curves []Curve
	// Goal, when positive, draws a vertical line at that x, labelled
	// GoalLabel in the legend.
	Goal      float64
	GoalLabel string
}

// CDF draws c's curves as empirical cumulative distributions and saves the
// chart as a PNG at path, with the legend under the chart so that it never
// hides a curve.
func CDF(path string, c Chart) error {
	p := gonum.New()
	p.Title.Text = c.Title
	p.Y.Label.Text = "fraction of trials ≤ x"
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	floor := smallestPositive(c.Curves)
	if math.IsInf(floor, 1) {
		return fmt.Errorf("%w: %s", ErrNoData, c.Title)
	}
	if c.LogX {
		p.X.Scale = gonum.LogScale{}
		p.X.Tick.Marker = logTicks{}
	}
	leg := gonum.NewLegend()
	leg.Top, leg.Left = true, true
	leg.Padding = vg.Points(2)
	for i, cv := range c.Curves {
		pts := steps(cv.Values, c.LogX, floor)
		l, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("plot: %s: %w", cv.Name, err)
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.5)
		l.Dashes = plotutil.Dashes(i)
		if len(pts) > 0 {
			p.Add(l)
		}
		leg.Add(cv.Name+missed(cv.Values), l)
	}
	if c.Goal > 0 {
		p.X.Max = math.Max(p.X.Max, c.Goal*1.05)
		p.X.Min = math.Min(p.X.Min, c.Goal)
		g, err := plotter.NewLine(plotter.XYs{{X: c.Goal, Y: 0}, {X: c.Goal, Y: 1}})
		if err != nil {
			return fmt.Errorf("plot: goal: %w", err)
		}
		g.Color = color.Gray{Y: 96}
		g.Width = vg.Points(1)
		g.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		p.Add(g)
		leg.Add(c.GoalLabel, g)
	}
	return save(path, p, &leg, c.XLabel)
}

// save draws p with its x label and leg under it and writes the PNG.
//
// The x label is drawn here rather than by gonum, which on a log axis
// reserves room for it as if it were centred on the arithmetic mean of the
// axis range, squeezing the chart to the left: gonum gets a blank label of
// the same height.
func save(path string, p *gonum.Plot, leg *gonum.Legend, xlabel string) error {
	const width, plotHeight = 8 * vg.Inch, 4.5 * vg.Inch
	r := leg.Rectangle(draw.New(vgimg.New(width, plotHeight)))
	legHeight := r.Max.Y - r.Min.Y + vg.Points(12)
	img := vgimg.New(width, plotHeight+legHeight)
	dc := draw.New(img)
	area := draw.Crop(dc, 0, 0, legHeight, 0)
	p.X.Label.Text = " "
	p.Draw(area)
	sty := p.X.Label.TextStyle
	sty.XAlign = draw.XCenter
	area.FillText(sty, vg.Point{X: (area.Min.X + area.Max.X) / 2, Y: area.Min.Y + sty.FontExtents().Descent}, xlabel)
	leg.Draw(draw.Crop(dc, vg.Points(48), 0, vg.Points(4), -plotHeight-vg.Points(4)))
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("plot: save %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("plot: save %s: %w", path, err)
	}
	return nil
}

// missed describes the trials of values never observed (infinite), for
// the legend: "" when there are none.
func missed(values []float64) string {
	n := 0
	for _, v := range values {
		if math.IsInf(v, 1) {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	trials := "trials"
	if len(values) == 1 {
		trials = "trial"
	}
	return fmt.Sprintf(" (never observed in %d of %d %s)", n, len(values), trials)
}

// logTicks labels a log axis at 1, 2 and 5 times the powers of ten, with
// unlabelled ticks at the other integers times the powers of ten, so that
// a range narrower than a decade still gets labels.
type logTicks struct{}

// Ticks implements gonum's plot.Ticker.
func (logTicks) Ticks(lo, hi float64) []gonum.Tick {
	if lo <= 0 || hi <= lo {
		return nil
	}
	var ticks []gonum.Tick
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
		base := math.Pow(10, e)
		for m := 1; m <= 9; m++ {
			v := float64(m) * base
			if v < lo || v > hi {
				continue
			}
			t := gonum.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// steps returns the staircase of the empirical distribution of values.
func steps(values []float64, logX bool, floor float64) plotter.XYs {
	var xs []float64
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if logX && v < floor {
			v = floor
		}
		xs = append(xs, v)
	}
	if len(xs) == 0 {
		return nil
	}
	slices.Sort(xs)
	total := float64(len(values))
	pts := make(plotter.XYs, 0, 2*len(xs))
	for i, x := range xs {
		pts = append(pts, plotter.XY{X: x, Y: float64(i) / total}, plotter.XY{X: x, Y: float64(i+1) / total})
	}
	return pts
}

// smallestPositive returns the smallest positive finite value of all
// curves, +Inf if there is none.
func smallestPositive(cs []Curve) float64 {
	m := math.Inf(1)
	for _, c := range cs {
		for _, v := range c.Values {
			if v > 0 && !math.IsInf(v, 0) && v < m {
				m = v
			}
		}
	}
	return m
}
