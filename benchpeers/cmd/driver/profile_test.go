package main

import (
	"slices"
	"testing"

	"github.com/google/pprof/profile"
)

// sample builds a profile sample whose stack is fns, innermost first.
func sample(fns ...string) *profile.Sample {
	smp := &profile.Sample{}
	for _, n := range fns {
		smp.Location = append(smp.Location, &profile.Location{Line: []profile.Line{{Function: &profile.Function{Name: n}}}})
	}
	return smp
}

// TestCategoryOf puts samples by the runtime first, then by their innermost
// owner: net/http's HTTP/2 server under Lifeline's serveH2C is net/http's.
func TestCategoryOf(t *testing.T) {
	const ll = "github.com/lifeline-go/lifeline."
	cases := []struct {
		stack []string
		want  string
	}{
		{[]string{"syscall.write", "internal/poll.(*FD).Write", "net/http.(*http2serverConn).serve", ll + "serveH2C"}, "write syscall"},
		{[]string{"net/http.(*http2serverConn).serve", ll + "serveH2C"}, "net/http"},
		{[]string{"runtime.memmove", "net/http.(*http2responseWriter).Write", ll + "(*runSink).write", ll + "runSide.execute"}, "net/http"},
		{[]string{"runtime.memmove", "github.com/lifeline-go/lifeline/output.(*Stack).Write", ll + "(*runWriter).Write", "main.handler.func1", ll + "runSide.callHandler"}, "lifeline: output stack"},
		{[]string{"github.com/lifeline-go/lifeline/output.(*Stack).EndAll", ll + "runSide.endOutput"}, "lifeline: final flush, Content-Length"},
		{[]string{ll + "(*runWriter).Write", "main.handler.func1"}, "lifeline: writer and sink"},
		{[]string{ll + "(*Pool).newRun", ll + "(*route).serve"}, "lifeline: run set-up"},
		{[]string{"runtime.mallocgc", ll + "(*Pool).newRun"}, "allocation"},
		{[]string{"sync/atomic.(*Uint32).Load", ll + "(*connSide).loop", ll + "(*route).serve"}, "lifeline: engine hand-off"},
		{[]string{ll + "(*Pool).endRun", ll + "(*route).serve"}, "lifeline: end-of-run bookkeeping"},
		{[]string{ll + "(*frameScan).next", ll + "(*h2conn).Read", "net/http.(*http2serverConn).readFrames"}, "lifeline: delivery and detector"},
		{[]string{ll + "FromContext", "main.handler.func1"}, "lifeline: other"},
		{[]string{"runtime.newstack", "runtime.morestack", ll + "(*connSide).park"}, "goroutine start/exit, stack growth"},
		{[]string{"crypto/sha256.block", "main.spin"}, "other"},
	}
	names := categoryNames()
	for _, c := range cases {
		got := categoryOf(sample(c.stack...))
		if got != c.want {
			t.Errorf("%v: %q, want %q", c.stack, got, c.want)
		}
		if !slices.Contains(names, got) {
			t.Errorf("%q is not a line of the table %q", got, names)
		}
	}
}
