package status

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
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
// serves, with a context that has the request's values and is bounded by
// [WithSectionTimeout] (a client that leaves does not cancel it). It must
// return when ctx is done: the page stops waiting for it then. One call
// runs at a time: a request that comes while the function runs for another
// request waits for that call's fields instead of calling it again, so a
// function that ignores ctx and hangs keeps one goroutine, not one per
// request, and its section shows unavailable until it returns. Sections of
// different names run concurrently. Its error is logged, never shown to the
// client.
type SectionFunc func(ctx context.Context) ([]Field, error)

// sectionSpec is one [WithSection].
type sectionSpec struct {
	name   string
	fn     SectionFunc
	flight *flight
}

// WithSection adds a section named name to the pool summary of the page and
// to the JSON (?json and ?json&full, under "sections"), in the order the
// options give: a summary of the application's own, such as the counts of
// a job queue. fn is called for every request the handler serves (a page,
// a JSON document, each refresh of the page's script), after the access
// rule passed, or the request shares the call in progress; see
// [SectionFunc]. An error, a panic or the timeout of fn
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
			o.sections = append(o.sections, sectionSpec{name: name, fn: fn, flight: &flight{}})
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

// flight is the call of one section's function in progress, which the
// requests that come meanwhile share: a function that hangs runs once at a
// time, however many requests ask for it.
type flight struct {
	mu   sync.Mutex
	call *sectionCall // nil when none runs
}

// sectionCall is one call of a section's function; fields and err are
// set before done is closed.
type sectionCall struct {
	done   chan struct{}
	fields []Field
	err    error
}

// join returns the call of fn in progress, or starts one with ctx's values,
// bounded by timeout. The call's context is not the request's: the
// requests that joined it stay, even when the one that started it leaves.
func (f *flight) join(ctx context.Context, fn SectionFunc, timeout time.Duration) *sectionCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.call != nil {
		return f.call
	}
	c := &sectionCall{done: make(chan struct{})}
	f.call = c
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	go func() {
		defer func() {
			cancel()
			if v := recover(); v != nil {
				c.fields, c.err = nil, fmt.Errorf("panic: %v", v)
			}
			f.mu.Lock()
			f.call = nil
			f.mu.Unlock()
			close(c.done)
		}()
		c.fields, c.err = fn(ctx)
	}()
	return c
}

// sections returns the sections in option order, nil when there is none:
// it joins or starts the call of every section's function (they run
// concurrently) and waits for them until the section timeout or until ctx
// is done. A function that fails, panics or is still running then gives a
// section with an error id, logged with the detail.
func sections(ctx context.Context, o *options) []Section {
	specs := o.sections
	if len(specs) == 0 {
		return nil
	}
	calls := make([]*sectionCall, len(specs))
	for i, s := range specs {
		calls[i] = s.flight.join(ctx, s.fn, o.sectionTimeout)
	}
	ctx, cancel := context.WithTimeout(ctx, o.sectionTimeout)
	defer cancel()
	out := make([]Section, len(specs))
	for i, c := range calls {
		select {
		case <-c.done:
		case <-ctx.Done():
		}
		select {
		case <-c.done: // answered, also when the wait ended at the same time
			out[i] = section(o.log(), specs[i].name, c.fields, c.err)
		default:
			out[i] = section(o.log(), specs[i].name, nil,
				fmt.Errorf("no answer in %v: %w", o.sectionTimeout, context.Cause(ctx)))
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
