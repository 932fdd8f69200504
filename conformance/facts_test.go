package conformance

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// facts is what one side showed in one scenario, as named, comparable
// strings: the client's view first, then the server's, in order.
type facts struct {
	keys []string
	vals map[string]string
}

func (f *facts) set(k, v string) {
	if f.vals == nil {
		f.vals = make(map[string]string)
	}
	if _, ok := f.vals[k]; !ok {
		f.keys = append(f.keys, k)
	}
	f.vals[k] = v
}

func (f *facts) add(k, v string) {
	if old, ok := f.vals[k]; ok {
		f.vals[k] = old + "," + v
		return
	}
	f.set(k, v)
}

func (f *facts) get(k string) (string, bool) {
	v, ok := f.vals[k]
	return v, ok
}

// String renders the facts as "k=v; k=v".
func (f *facts) String() string {
	parts := make([]string, len(f.keys))
	for i, k := range f.keys {
		parts[i] = k + "=" + f.show(k)
	}
	return strings.Join(parts, "; ")
}

// show returns fact k for display: a long list of informational values
// (one per loop turn) is shortened to its first and last ones.
func (f *facts) show(k string) string {
	v := f.vals[k]
	if !informational(k) {
		return v
	}
	if items := strings.Split(v, ","); len(items) > 6 {
		return strings.Join(items[:2], ",") + ",…," + items[len(items)-1] + " (" + strconv.Itoa(len(items)) + ")"
	}
	return v
}

// informational reports whether fact k is shown but never compared: server
// events named "i.*" (timings, counts that depend on scheduling).
func informational(k string) bool {
	if i := strings.IndexByte(k, ':'); i >= 0 {
		k = k[i+1:]
	}
	return strings.HasPrefix(k, "i.")
}

// harnessKeys are server events that belong to the harness, not the scenario.
var harnessKeys = map[string]bool{"wait": true}

// endMargin separates "the body was complete before the run ended" from
// "at its end": scenarios that answer early keep working far longer.
const endMargin = 50 * time.Millisecond

// deriveFacts turns what the client saw and the server's events into facts.
// An "error" event (a broken harness, such as a signal that never came)
// makes it fail.
func deriveFacts(run string, obs clientObs, evs []event, headers []string) (facts, error) {
	var f facts
	var last time.Time
	respRun := obs.respRun
	if respRun == "" {
		respRun = run
	}
	for _, e := range evs {
		if e.K == "error" {
			return f, fmt.Errorf("server reported a harness error in %s: %s", e.Run, e.V)
		}
		if e.Run == respRun && e.time().After(last) {
			last = e.time()
		}
	}
	if rs := obs.resp; rs != nil {
		f.set("http", strconv.Itoa(rs.code))
		f.set("framing", rs.framing)
		coding := rs.header.Get("Content-Encoding")
		if coding == "" {
			coding = "-"
		}
		f.set("coding", coding)
		body, err := rs.decoded()
		if err != nil {
			f.set("body", "undecodable: "+err.Error())
		} else {
			f.set("body", renderBody(body))
		}
		f.set("end", rs.end)
		for _, h := range headers {
			v := strings.Join(rs.header.Values(h), ", ")
			if v == "" {
				v = "-"
			}
			f.set("hdr."+h, v)
		}
		when := "-"
		if !rs.done.IsZero() && !last.IsZero() {
			when = "after-end"
			if rs.done.Before(last.Add(-endMargin)) {
				when = "before-end"
			}
		}
		f.set("complete", when)
		reuse := obs.reuse
		if reuse == "yes" && when == "before-end" && obs.reused.After(last) {
			reuse = "after-end"
		}
		if reuse != "" {
			f.set("reuse", reuse)
		}
	}
	extra := make([]string, 0, len(obs.extra))
	for k := range obs.extra {
		extra = append(extra, k)
	}
	slices.Sort(extra)
	for _, k := range extra {
		f.set(k, obs.extra[k])
	}
	for _, e := range evs {
		if harnessKeys[e.K] {
			continue
		}
		k := e.K
		if sub, ok := strings.CutPrefix(e.Run, run+"/"); ok {
			k = sub + ":" + k
		}
		f.add(k, e.V)
	}
	return f, nil
}

// renderBody shows a short printable body as a quoted string and anything
// else by its length.
func renderBody(b []byte) string {
	if len(b) <= 48 && strings.IndexFunc(string(b), func(r rune) bool {
		return !unicode.IsPrint(r) && r != '\n'
	}) < 0 {
		return strconv.Quote(string(b))
	}
	return fmt.Sprintf("%d bytes", len(b))
}

// verdict classifies a scenario's outcome.
type verdict int

const (
	same      verdict = iota // Lifeline behaves as PHP
	better                   // Lifeline differs where PHP falls short
	different                // a deliberate difference
)

func (v verdict) String() string {
	return [...]string{"same", "better", "different"}[v]
}

// diff declares one fact on which Lifeline is expected to differ from PHP.
type diff struct {
	fact     string
	php      string // PHP's value
	lifeline string // Lifeline's value
	verdict  verdict
	reason   string
}

// compare checks the two sides' facts against the declared differences. It
// returns every problem: an undeclared difference, a declared one not
// observed or with other values.
func compare(php, ll facts, diffs []diff) []string {
	declared := make(map[string]diff, len(diffs))
	for _, d := range diffs {
		declared[d.fact] = d
	}
	var problems []string
	keys := slices.Clone(php.keys)
	for _, k := range ll.keys {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if informational(k) {
			continue
		}
		pv, pok := php.get(k)
		lv, lok := ll.get(k)
		if !pok {
			pv = "(none)"
		}
		if !lok {
			lv = "(none)"
		}
		d, isDeclared := declared[k]
		switch {
		case pv == lv && isDeclared:
			problems = append(problems, fmt.Sprintf("%s: declared different (%s) but both sides show %q", k, d.reason, pv))
		case pv == lv:
		case !isDeclared:
			problems = append(problems, fmt.Sprintf("%s: undeclared difference: PHP %q, Lifeline %q", k, pv, lv))
		case d.php != pv || d.lifeline != lv:
			problems = append(problems, fmt.Sprintf("%s: declared PHP %q / Lifeline %q, observed PHP %q / Lifeline %q",
				k, d.php, d.lifeline, pv, lv))
		}
	}
	for _, d := range diffs {
		if !slices.Contains(keys, d.fact) {
			problems = append(problems, fmt.Sprintf("%s: declared difference on a fact neither side showed", d.fact))
		}
	}
	return problems
}

// overall returns the scenario's verdict: the strongest declared one.
func overall(diffs []diff) verdict {
	v := same
	for _, d := range diffs {
		v = max(v, d.verdict)
	}
	return v
}
