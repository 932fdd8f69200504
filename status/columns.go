package status

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// A column of a table of the page. Key is the key of the row in the JSON
// (or "_flags", the tags computed from the row); Fmt names the formatter.
// page.js reads both from the table head (data-key, data-fmt), so the server
// and the script render the same cells from the same data: each formatter
// below has a twin in page.js.
type column struct {
	Key, Label, Fmt string
}

// table describes one table of the page.
type table struct {
	ID, Title string // ID is also the "src" list of the snapshot: "active" or "recent"
	Columns   []column
}

func tables() []table {
	return []table{
		{ID: "active", Title: "Active runs", Columns: []column{
			{"id", "#", "int"}, {"method", "method", "text"}, {"uri", "URI", "text"},
			{"route", "route", "text"}, {"phase", "phase", "text"}, {"status", "status", "status"},
			{"cause", "cause", "text"}, {"elapsed_ms", "elapsed", "ms"}, {"time_limit_ms", "limit", "limit"},
			{"time_left_ms", "left", "left"}, {"bytes_sent", "bytes", "int"}, {"_flags", "flags", "flags"},
		}},
		{ID: "recent", Title: "Recent runs", Columns: []column{
			{"id", "#", "int"}, {"method", "method", "text"}, {"uri", "URI", "text"},
			{"route", "route", "text"}, {"status", "status", "status"}, {"cause", "cause", "text"},
			{"code", "code", "code"}, {"duration_ms", "duration", "ms"}, {"finished_after_ms", "finished after", "after"},
			{"delivery", "delivery", "text"}, {"bytes_sent", "bytes", "int"}, {"shutdown_funcs", "shutdown fns", "int"}, {"_flags", "flags", "flags"},
			{"notes", "notes", "notes"},
		}},
	}
}

// summaryItem is one line of the pool summary. Alert marks the counters
// that should be zero: the page shows them in red when they are not.
type summaryItem struct {
	Key, Label, Fmt string
	Alert           bool
}

func summaryItems() []summaryItem {
	return []summaryItem{
		{"start_time", "start time", "time", false}, {"uptime_ms", "uptime", "ms", false},
		{"accepted_runs", "accepted runs", "int", false}, {"active_runs", "active runs", "int", false},
		{"finished_runs", "working after Finish", "int", false}, {"runaway_runs", "runaway now", "int", true},
		{"runaway_total", "runaway since start", "int", true}, {"session_locked", "holding a session lock", "int", false},
		{"max_active_runs", "max active", "int", false}, {"queue_length", "queue length", "int", false},
		{"queue_waits", "queue waits", "int", false}, {"queue_timeouts", "queue timeouts", "int", true},
		{"ended_runs", "ended runs", "int", false}, {"ended_by_status", "ended by status", "map", false},
		{"aborts_by_cause", "aborts by cause", "map", false}, {"time_limit_hits", "time-limit hits", "int", false},
		{"handler_panics", "handler panics", "int", true}, {"shutdown_panics", "shutdown panics", "int", true},
	}
}

// format renders v, the value of a row's (or the summary's) key, with the
// formatter kind. row is the whole row, for formatters that need context.
// Tags are small labels shown after the text (the "flags" formatter).
func format(kind string, v any, row map[string]any) (text string, tags []string) {
	switch kind {
	case "ms":
		return fmtMS(num(v)), nil
	case "limit":
		if num(v) == 0 {
			return "none", nil
		}
		return fmtMS(num(v)), nil
	case "left":
		if num(row["time_limit_ms"]) == 0 {
			return "–", nil
		}
		return fmtMS(num(v)), nil
	case "after":
		if row["finished"] != true {
			return "–", nil
		}
		return fmtMS(num(v)), nil
	case "code":
		if num(v) == 0 {
			return "–", nil
		}
		return fmtInt(num(v)), nil
	case "int":
		return fmtInt(num(v)), nil
	case "status":
		s, _ := row["status_text"].(string)
		return fmtInt(num(v)) + " " + s, nil
	case "time":
		s, _ := v.(string)
		if len(s) >= 19 {
			return strings.Replace(s[:19], "T", " ", 1) + " UTC", nil
		}
		return s, nil
	case "map":
		m, _ := v.(map[string]any)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + fmtInt(num(m[k]))
		}
		return strings.Join(parts, " · "), nil
	case "notes":
		m, _ := v.(map[string]any)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			s, _ := m[k].(string)
			parts[i] = k + ": " + s
		}
		return strings.Join(parts, " · "), nil
	case "flags":
		return "", flags(row)
	}
	s, _ := v.(string)
	return s, nil
}

// flags returns the tags of a live or ended run: what an operator should
// notice at a glance.
func flags(row map[string]any) []string {
	var tags []string
	if row["runaway"] == true {
		tags = append(tags, "runaway")
	}
	if row["panicked"] == true {
		tags = append(tags, "panic")
	}
	if row["finished"] == true {
		tags = append(tags, "finish")
	}
	if row["session_locked"] == true {
		tags = append(tags, "session")
	} else if s, _ := row["session"].(string); strings.HasPrefix(s, "waiting") {
		tags = append(tags, "session-wait")
	}
	if row["ignore_user_abort"] == true {
		tags = append(tags, "ignore-abort")
	}
	return tags
}

// rowClass returns the CSS classes of a row: how the page makes runaway,
// timed-out and aborted runs easy to spot.
func rowClass(row map[string]any) string {
	var c []string
	st := int(num(row["status"]))
	if row["runaway"] == true {
		c = append(c, "runaway")
	}
	if st&2 != 0 {
		c = append(c, "timeout")
	}
	if st&1 != 0 {
		c = append(c, "aborted")
	}
	if (row["panicked"] == true && row["cause"] == "") || num(row["code"]) >= 500 {
		c = append(c, "error")
	}
	if ph, ok := row["phase"].(string); ok {
		c = append(c, "phase-"+ph)
	}
	return strings.Join(c, " ")
}

// fmtMS renders a duration in milliseconds for a person: "12 ms", "3.4 s",
// "5m 06s", "7h 08m", "9d 10h".
func fmtMS(v float64) string {
	switch {
	case v < 1000:
		return strconv.FormatInt(int64(math.Round(v)), 10) + " ms"
	case v < 60000:
		return strconv.FormatFloat(v/1000, 'f', 1, 64) + " s"
	}
	s := int64(v / 1000)
	switch {
	case s < 3600:
		return fmt.Sprintf("%dm %02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh %02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd %02dh", s/86400, s%86400/3600)
}

func fmtInt(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

// sortSpec is the sort order of one table.
type sortSpec struct {
	Key  string
	Desc bool
}

// parseSorts reads ?sort= values, "[-]table.key", the last one of a table
// winning. A value that names no column of a table is an error.
func parseSorts(vals []string, tabs []table) (map[string]sortSpec, error) {
	out := make(map[string]sortSpec)
	for _, v := range vals {
		desc := strings.HasPrefix(v, "-")
		id, key, _ := strings.Cut(strings.TrimPrefix(v, "-"), ".")
		found := false
		for _, t := range tabs {
			if t.ID == id && slices.ContainsFunc(t.Columns, func(c column) bool { return c.Key == key }) {
				out[id] = sortSpec{Key: key, Desc: desc}
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("sort %q: not [-]table.column of a table of this page", clip(v))
		}
	}
	return out, nil
}

// sortQuery renders sorts as a query string ("?sort=..."), tables in page
// order, or "?" when nothing is sorted.
func sortQuery(sorts map[string]sortSpec, tabs []table) string {
	var vals []string
	for _, t := range tabs {
		if s, ok := sorts[t.ID]; ok {
			v := t.ID + "." + s.Key
			if s.Desc {
				v = "-" + v
			}
			vals = append(vals, v)
		}
	}
	return "?" + url.Values{"sort": vals}.Encode()
}

// sortParam is the value of one table's sort ("[-]key"), for data-sort.
func sortParam(s sortSpec, ok bool) string {
	if !ok {
		return ""
	}
	if s.Desc {
		return "-" + s.Key
	}
	return s.Key
}

// sortRows orders rows by spec, stably, comparing raw JSON values.
func sortRows(rows []map[string]any, spec sortSpec) {
	key := func(r map[string]any) any {
		if spec.Key == "_flags" {
			return strings.Join(flags(r), " ")
		}
		return r[spec.Key]
	}
	slices.SortStableFunc(rows, func(a, b map[string]any) int {
		c := compareValues(key(a), key(b))
		if spec.Desc {
			return -c
		}
		return c
	})
}

// compareValues orders JSON values: numbers by value, strings by bytes,
// false before true, and values of different kinds by kind.
func compareValues(a, b any) int {
	switch x := a.(type) {
	case float64:
		if y, ok := b.(float64); ok {
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	case bool:
		if y, ok := b.(bool); ok {
			switch {
			case x == y:
				return 0
			case !x:
				return -1
			}
			return 1
		}
	}
	return kindRank(a) - kindRank(b)
}

func kindRank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case float64:
		return 2
	case string:
		return 3
	}
	return 4
}
