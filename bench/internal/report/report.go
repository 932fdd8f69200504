// Package report renders the suite's results as Markdown: a summary table
// with one row per goal (measurement, figure, goal, met or not, command),
// then a section per part with its commands, tables and plots.
package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ErrMarkers is returned by [Splice] when the file lacks the begin and end
// markers, in that order.
var ErrMarkers = errors.New("report: markers not found")

// Outcome says whether a figure meets its goal.
type Outcome int

// The outcomes of a verdict.
const (
	Unknown Outcome = iota // not measured (the part failed)
	Met
	NotMet
	Info // a figure shown without a goal
)

func (o Outcome) String() string {
	switch o {
	case Met:
		return "**met**"
	case NotMet:
		return "**not met**"
	case Info:
		return "(no goal)"
	}
	return "not measured"
}

// AtLeast returns Met when x ≥ goal.
func AtLeast(x, goal float64) Outcome {
	if x >= goal {
		return Met
	}
	return NotMet
}

// AtMost returns Met when x ≤ goal.
func AtMost(x, goal float64) Outcome {
	if x <= goal {
		return Met
	}
	return NotMet
}

// All returns Met when every outcome is Met (or Info), Unknown if one is
// Unknown, NotMet otherwise.
func All(os ...Outcome) Outcome {
	out := Met
	for _, o := range os {
		switch o {
		case Unknown:
			return Unknown
		case NotMet:
			out = NotMet
		}
	}
	return out
}

// Verdict is one goal of the issue and the figure that answers it.
type Verdict struct {
	Measurement string // what is measured
	Figure      string // the figure, with its spread
	Goal        string // the goal, as "≥ 0.97"
	Outcome     Outcome
	Command     string // the command that produced the figure
}

// Table is a Markdown table.
type Table struct {
	Caption string
	Header  []string
	Rows    [][]string
}

// Plot is a chart file linked from a section.
type Plot struct {
	Title string
	Path  string // the PNG file; linked relative to the Markdown file
}

// Section is one part of the suite (P1 … P8).
type Section struct {
	ID       string // "P1"
	Title    string
	Goal     string   // the goal as the issue states it
	Method   []string // paragraphs on what is measured and how
	Commands []string // commands that reproduce the figures
	Verdicts []Verdict
	Tables   []Table
	Plots    []Plot
	Notes    []string
	Err      error // why the part could not be measured, if it could not
}

// Doc is the whole report.
type Doc struct {
	Title    string
	Intro    []string // paragraphs under the title
	Sections []*Section
}

// Render writes d as Markdown to w. Plot links are made relative to dir,
// the directory the Markdown file will be in.
func Render(w io.Writer, d *Doc, dir string) error {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("## %s", d.Title)
	p("")
	for _, para := range d.Intro {
		p("%s", para)
		p("")
	}
	p("### Summary")
	p("")
	p("| part | measurement | figure | goal | result | command |")
	p("| --- | --- | --- | --- | --- | --- |")
	for _, s := range d.Sections {
		vs := s.Verdicts
		if s.Err != nil && len(vs) == 0 {
			vs = []Verdict{{Measurement: s.Title, Figure: "error: see below", Goal: s.Goal}}
		}
		for _, v := range vs {
			p("| [%s](#%s) | %s | %s | %s | %s | %s |", s.ID, anchor(s), cell(v.Measurement), cell(v.Figure),
				cell(v.Goal), v.Outcome, code(v.Command))
		}
	}
	p("")
	for _, s := range d.Sections {
		renderSection(p, s, dir)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func renderSection(p func(string, ...any), s *Section, dir string) {
	p("### %s %s", s.ID, s.Title)
	p("")
	p("Goal: %s", s.Goal)
	p("")
	if s.Err != nil {
		p("**Not measured:** %s", s.Err)
		p("")
	}
	for _, para := range s.Method {
		p("%s", para)
		p("")
	}
	if len(s.Commands) > 0 {
		p("```")
		for _, c := range s.Commands {
			p("%s", c)
		}
		p("```")
		p("")
	}
	for _, t := range s.Tables {
		if t.Caption != "" {
			p("%s", t.Caption)
			p("")
		}
		p("| %s |", strings.Join(cells(t.Header), " | "))
		p("|%s", strings.Repeat(" --- |", len(t.Header)))
		for _, r := range t.Rows {
			p("| %s |", strings.Join(cells(r), " | "))
		}
		p("")
	}
	for _, pl := range s.Plots {
		rel, err := filepath.Rel(dir, pl.Path)
		if err != nil {
			rel = pl.Path
		}
		p("![%s](%s)", pl.Title, filepath.ToSlash(rel))
		p("")
	}
	for _, n := range s.Notes {
		p("%s", n)
		p("")
	}
}

// anchor is the heading's anchor as GitHub derives it.
func anchor(s *Section) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s.ID + " " + s.Title) {
		switch {
		case r == ' ' || r == '-':
			b.WriteRune('-')
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func cell(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }

func cells(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = cell(s)
	}
	return out
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.ReplaceAll(s, "|", `\|`) + "`"
}

// WriteFile renders d into the file at path, with plot links relative to
// the file's directory.
func WriteFile(path string, d *Doc) error {
	var b bytes.Buffer
	if err := Render(&b, d, filepath.Dir(path)); err != nil {
		return err
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// The markers [Splice] replaces the text between.
const (
	BeginMarker = "<!-- bench-suite:begin -->"
	EndMarker   = "<!-- bench-suite:end -->"
)

// Splice renders d into the existing file at path, replacing what lies
// between [BeginMarker] and [EndMarker] and keeping the rest of the file.
// Plot links are relative to the file's directory.
func Splice(path string, d *Doc) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	i := bytes.Index(old, []byte(BeginMarker))
	j := bytes.Index(old, []byte(EndMarker))
	if i < 0 || j < i {
		return fmt.Errorf("%w in %s: add %q and %q lines where the suite's section goes", ErrMarkers, path, BeginMarker, EndMarker)
	}
	var b bytes.Buffer
	b.Write(old[:i+len(BeginMarker)])
	b.WriteString("\n")
	if err := Render(&b, d, filepath.Dir(path)); err != nil {
		return err
	}
	b.Write(old[j:])
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
