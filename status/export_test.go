package status

// Bridges for the external tests (package status_test).

// FormatCell is format: the Go twin of page.js's formatters.
func FormatCell(kind string, v any, row map[string]any) (string, []string) {
	return format(kind, v, row)
}

// Columns returns the keys and formatters of a table's columns.
func Columns(tableID string) (keys, fmts []string) {
	for _, t := range tables() {
		if t.ID == tableID {
			for _, c := range t.Columns {
				keys, fmts = append(keys, c.Key), append(fmts, c.Fmt)
			}
		}
	}
	return keys, fmts
}

// SummaryKeys returns the JSON keys the page's summary shows.
func SummaryKeys() []string {
	var keys []string
	for _, it := range summaryItems() {
		keys = append(keys, it.Key)
	}
	return keys
}
