package status

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/lifeline-go/lifeline/internal/errid"
)

// DefaultSectionTimeout is the default of [WithSectionTimeout].
const DefaultSectionTimeout = time.Second

// maxSectionName bounds the length of a section's name.
const maxSectionName = 64

// Field is one line of a [Section]: a name and its value, both text. The
// page shows them escaped, as text; the JSON carries them as strings.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Section is one summary section of the application ([WithSection]) as the
// page and [Snapshot.Sections] show it: the fields its function returned,
// in their order, or, when the function failed, timed out or panicked, no
// field and Error, "section unavailable (id ...)", whose id is logged with
// the detail ([WithLogger]).
type Section struct {
	Name   string  `json:"name"`
	Fields []Field `json:"fields"` // [] when Error is set
	Error  string  `json:"error"`  // "" when the function succeeded
}

// SectionFunc returns the fields of a section. [Handler.ServeHTTP] calls it
// on a goroutine of its own for every page, JSON document or refresh it
// serves, with the request's context bounded by [WithSectionTimeout]. It must return when ctx is done: the page
// stops waiting for it then, but a function that ignores ctx keeps its
// goroutine until it returns. It is called concurrently by concurrent
// requests. Its error is logged, never shown to the client.
type SectionFunc func(ctx context.Context) ([]Field, error)

// sectionSpec is one [WithSection].
type sectionSpec struct {
	name string
	fn   SectionFunc
}

// WithSection adds a section named name to the pool summary of the page and
// to the JSON (?json and ?json&full, under "sections"), in the order the
// options give: a summary of the application's own, such as the counts of
// a job queue. fn is called for every request the handler serves (a page,
// a JSON document, each refresh of the page's script), after the access
// rule passed; see [SectionFunc]. An error, a panic or the timeout of fn
// shows in its section as "section unavailable (id ...)" and never fails
// the page.
//
// name is 1 to 64 letters, digits, spaces, '-', '_' or '.', unique among
// the sections; an invalid or repeated name or a nil fn is an error
// wrapping [ErrInvalidOption]. There is no section by default. The fields
// are shown to whoever passes the access rule: put no secret in them.
func WithSection(name string, fn SectionFunc) Option {
	return optionFunc(func(o *options) {
		switch {
		case !validSectionName(name):
			o.errs = append(o.errs, fmt.Errorf("%w: WithSection(%q): the name must be 1 to %d letters, digits, spaces, '-', '_' or '.'", ErrInvalidOption, clip(name), maxSectionName))
		case fn == nil:
			o.errs = append(o.errs, fmt.Errorf("%w: WithSection(%q): nil function", ErrInvalidOption, name))
		default:
			o.sections = append(o.sections, sectionSpec{name: name, fn: fn})
		}
	})
}

// WithSectionTimeout sets how long a request waits for the functions of
// its sections ([WithSection]), which run concurrently: one that has not
// returned by then shows as unavailable. It must be positive. The default
// is [DefaultSectionTimeout], 1s.
func WithSectionTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.sectionTimeout = d })
}

// validSectionName reports whether s may name a section.
func validSectionName(s string) bool {
	if s == "" || len(s) > maxSectionName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == ' ', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// sectionResult is what one section's function returned.
type sectionResult struct {
	i      int
	fields []Field
	err    error
}

// sections calls every section's function concurrently with ctx bounded by
// the section timeout and returns the sections in option order; nil when
// there is none. A function that fails, panics or is still running at the
// deadline gives a section with an error id, logged with the detail.
func sections(ctx context.Context, o *options) []Section {
	specs := o.sections
	if len(specs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, o.sectionTimeout)
	defer cancel()
	results := make(chan sectionResult, len(specs)) // late functions never block
	for i, s := range specs {
		go func() {
			defer func() {
				if v := recover(); v != nil {
					results <- sectionResult{i: i, err: fmt.Errorf("panic: %v", v)}
				}
			}()
			fields, err := s.fn(ctx)
			results <- sectionResult{i: i, fields: fields, err: err}
		}()
	}
	out := make([]Section, len(specs))
	done := make([]bool, len(specs))
	for pending := len(specs); pending > 0; pending-- {
		select {
		case r := <-results:
			out[r.i], done[r.i] = section(o.log(), specs[r.i].name, r.fields, r.err), true
		case <-ctx.Done():
			for i, s := range specs {
				if !done[i] {
					out[i] = section(o.log(), s.name, nil,
						fmt.Errorf("no answer in %v: %w", o.sectionTimeout, context.Cause(ctx)))
				}
			}
			return out
		}
	}
	return out
}

// section builds the section named name from its function's result,
// logging err with a fresh id that the section shows instead.
func section(log *slog.Logger, name string, fields []Field, err error) Section {
	if err != nil {
		id := errid.New()
		log.Error("status: section unavailable", "id", id, "section", name, "err", err)
		return Section{Name: name, Fields: []Field{}, Error: errid.Message("section unavailable", id)}
	}
	return Section{Name: name, Fields: append([]Field{}, fields...)} // never null; the function may reuse its slice
}
