package main

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseParams(t *testing.T) {
	for _, tc := range []struct {
		name  string
		query string
		parse func(url.Values) (any, error)
		want  any
		bad   string // the parameter named by the error, "" for success
	}{
		{"stream defaults", "", wrap(parseStream), streamParams{Lines: 10, Every: time.Second}, ""},
		{"stream", "lines=1000&every=0s", wrap(parseStream), streamParams{Lines: 1000}, ""},
		{"stream max every", "every=1m", wrap(parseStream), streamParams{Lines: 10, Every: time.Minute}, ""},
		{"stream fractional", "every=1.5ms", wrap(parseStream), streamParams{Lines: 10, Every: 1500 * time.Microsecond}, ""},
		{"stream lines sign", "lines=%2B5", wrap(parseStream), streamParams{Lines: 5, Every: time.Second}, ""},
		{"stream empty lines", "lines=", wrap(parseStream), nil, "lines"},
		{"stream huge lines", "lines=99999999999999999999", wrap(parseStream), nil, "lines"},
		{"stream first error wins", "lines=0&every=x", wrap(parseStream), nil, "lines"},
		{"order defaults", "", wrap(parseOrder), orderParams{Work: 2 * time.Second, Email: 100 * time.Millisecond}, ""},
		{"order", "work=10ms&email=5s&ref=A-1.b_2", wrap(parseOrder), orderParams{Work: 10 * time.Millisecond, Email: 5 * time.Second, Ref: "A-1.b_2"}, ""},
		{"order empty ref", "ref=", wrap(parseOrder), orderParams{Work: 2 * time.Second, Email: 100 * time.Millisecond}, ""},
		{"order ref 65", "ref=" + strings.Repeat("x", 65), wrap(parseOrder), nil, "ref"},
		{"order ref slash", "ref=a/b", wrap(parseOrder), nil, "ref"},
		{"order ref 64", "ref=" + strings.Repeat("x", 64), wrap(parseOrder), orderParams{Work: 2 * time.Second, Email: 100 * time.Millisecond, Ref: strings.Repeat("x", 64)}, ""},
		{"finish", "work=0s&pad=1048576", wrap(parseFinish), finishParams{Pad: maxPad}, ""},
		{"finish pad negative", "pad=-1", wrap(parseFinish), nil, "pad"},
		{"close-early", "work=3s", wrap(parseCloseEarly), closeEarlyParams{Work: 3 * time.Second}, ""},
		{"timeout", "limit=0s&busy=1s&mode=spin", wrap(parseTimeout), timeoutParams{Busy: time.Second, Mode: busySpin}, ""},
		{"timeout mode case", "mode=SPIN", wrap(parseTimeout), nil, "mode"},
		{"timeout-reset defaults", "", wrap(parseTimeoutReset),
			timeoutResetParams{Limit: time.Second, Before: 750 * time.Millisecond, Reset: time.Second, After: 500 * time.Millisecond}, ""},
		{"timeout-reset before", "limit=2s&before=1s", wrap(parseTimeoutReset),
			timeoutResetParams{Limit: 2 * time.Second, Before: time.Second, Reset: time.Second, After: 500 * time.Millisecond}, ""},
		{"session close", "close", wrap(parseSession), sessionParams{Hold: 5 * time.Second, Close: true}, ""},
		{"session close on", "close=on&hold=1s", wrap(parseSession), sessionParams{Hold: time.Second, Close: true}, ""},
		{"session close 0", "close=0", wrap(parseSession), sessionParams{Hold: 5 * time.Second}, ""},
		{"session close twice", "close=1&close=1", wrap(parseSession), nil, "close"},
		{"unknown", "hold=1s&zzz=1&aaa=2", wrap(parseSession), nil, "aaa"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tc.parse(q)
			if tc.bad != "" {
				var pe *paramError
				if !errors.As(err, &pe) || pe.Name != tc.bad || !errors.Is(err, errBadParam) {
					t.Fatalf("error = %v, want a *paramError naming %q", err, tc.bad)
				}
				return
			}
			if err != nil {
				t.Fatalf("error = %v", err)
			}
			if got != tc.want {
				t.Errorf("parsed %+v, want %+v", got, tc.want)
			}
		})
	}
}

func wrap[T any](f func(url.Values) (T, error)) func(url.Values) (any, error) {
	return func(q url.Values) (any, error) {
		v, err := f(q)
		return v, err
	}
}

// FuzzParseParams feeds arbitrary query strings to every demo's parser:
// none may panic, every value accepted is within the documented limits, and
// every error is a *paramError naming a parameter of the query.
func FuzzParseParams(f *testing.F) {
	for _, s := range []string{
		"", "lines=10&every=1s", "work=200ms&ref=R-1", "limit=1s&busy=3s&mode=spin",
		"limit=1s&reset=1s&after=500ms&before=750ms", "hold=5s&close=1", "work=5s&pad=2048",
		"every=9223372036854775807ns", "every=-0s", "lines=-1", "ref=%00", "close&close", "mode=",
		"every=1e3s", "every=.5s", "every=1h1m", "pad=1e6", "a=1&b=2",
	} {
		f.Add(s)
	}
	parsers := map[string]func(url.Values) (any, error){
		"stream": wrap(parseStream), "order": wrap(parseOrder), "finish": wrap(parseFinish),
		"close-early": wrap(parseCloseEarly), "timeout": wrap(parseTimeout),
		"timeout-reset": wrap(parseTimeoutReset), "session": wrap(parseSession),
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for name, parse := range parsers {
			v, err := parse(q)
			if err != nil {
				var pe *paramError
				if !errors.As(err, &pe) {
					t.Fatalf("%s: error %v is not a *paramError", name, err)
				}
				if _, ok := q[pe.Name]; !ok && !strings.HasSuffix(pe.Name, "...") {
					t.Fatalf("%s: error names %q, not a parameter of %q", name, pe.Name, raw)
				}
				continue
			}
			checkLimits(t, name, v)
		}
	})
}

// checkLimits fails if a parsed value is outside the documented limits.
func checkLimits(t *testing.T, name string, v any) {
	t.Helper()
	var durs []time.Duration
	switch p := v.(type) {
	case streamParams:
		if p.Lines < 1 || p.Lines > maxLines {
			t.Fatalf("%s: lines %d", name, p.Lines)
		}
		durs = append(durs, p.Every)
	case orderParams:
		if len(p.Ref) > maxRefLen {
			t.Fatalf("%s: ref %q", name, p.Ref)
		}
		for i := 0; i < len(p.Ref); i++ {
			if !isRefByte(p.Ref[i]) {
				t.Fatalf("%s: ref %q", name, p.Ref)
			}
		}
		durs = append(durs, p.Work)
	case finishParams:
		if p.Pad < 0 || p.Pad > maxPad {
			t.Fatalf("%s: pad %d", name, p.Pad)
		}
		durs = append(durs, p.Work)
	case closeEarlyParams:
		durs = append(durs, p.Work)
	case timeoutParams:
		if p.Mode != busySleep && p.Mode != busySpin {
			t.Fatalf("%s: mode %q", name, p.Mode)
		}
		durs = append(durs, p.Limit, p.Busy)
	case timeoutResetParams:
		durs = append(durs, p.Limit, p.Before, p.Reset, p.After)
	case sessionParams:
		durs = append(durs, p.Hold)
	default:
		t.Fatalf("%s: unexpected type %T", name, v)
	}
	for _, d := range durs {
		if d < 0 || d > maxDuration {
			t.Fatalf("%s: duration %v out of [0, %v]", name, d, maxDuration)
		}
	}
}
