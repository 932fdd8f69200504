package status

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io"
	"maps"
	"strings"
	"time"
)

//go:embed page.html page.css page.js
var pageFiles embed.FS

// page is the HTML renderer: the parsed template and the inline style and
// script with the Content-Security-Policy that admits exactly them. It is
// immutable after newPage.
type page struct {
	tmpl *template.Template
	css  template.CSS
	js   template.JS
	csp  string
}

func newPage() (*page, error) {
	css, err := pageFiles.ReadFile("page.css")
	if err != nil {
		return nil, fmt.Errorf("status: page style: %w", err)
	}
	js, err := pageFiles.ReadFile("page.js")
	if err != nil {
		return nil, fmt.Errorf("status: page script: %w", err)
	}
	tmpl, err := template.ParseFS(pageFiles, "page.html")
	if err != nil {
		return nil, fmt.Errorf("status: page template: %w", err)
	}
	return &page{
		tmpl: tmpl, css: template.CSS(css), js: template.JS(js),
		csp: "default-src 'none'; script-src " + hashSource(js) + "; style-src " + hashSource(css) +
			"; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	}, nil
}

// hashSource returns the CSP source expression that admits an inline
// element whose text is b.
func hashSource(b []byte) string {
	sum := sha256.Sum256(b)
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// The template's data.
type (
	pageData struct {
		Pool           string
		Time           string
		RefreshMS      int64
		RefreshSeconds int64 // for <meta http-equiv="refresh">, 0 = none
		Summary        []summaryView
		Sections       []Section // escaped by the template
		Tables         []tableView
		CSS            template.CSS
		JS             template.JS
	}
	summaryView struct {
		Key, Label, Fmt, Text string
		Alert, Bad            bool
	}
	tableView struct {
		ID, Title, Sort string
		Columns         []columnView
		Count           int
		Body            template.HTML // the rows, escaped by writeRows
	}
	columnView struct{ Key, Label, Fmt, Href, Class string }
)

// render writes the page for snap, sorted per sorts.
func (p *page) render(w io.Writer, snap Snapshot, o *options, sorts map[string]sortSpec) error {
	// Go through JSON, as page.js does, so that both render the same
	// values under the same keys.
	doc, err := toJSONMap(snap)
	if err != nil {
		return err
	}
	d := pageData{
		CSS: p.css, JS: p.js, Pool: snap.Pool,
		RefreshMS: o.refresh.Milliseconds(),
	}
	d.Time, _ = format("time", doc["time"], doc)
	if o.refresh > 0 {
		d.RefreshSeconds = max(1, int64((o.refresh+time.Second-1)/time.Second))
	}
	for _, it := range summaryItems() {
		text, _ := format(it.Fmt, doc[it.Key], doc)
		d.Summary = append(d.Summary, summaryView{
			Key: it.Key, Label: it.Label, Fmt: it.Fmt, Text: text, Alert: it.Alert, Bad: it.Alert && num(doc[it.Key]) > 0,
		})
	}
	d.Sections = snap.Sections
	tabs := tables()
	for _, t := range tabs {
		d.Tables = append(d.Tables, tableViewOf(t, tabs, doc, sorts))
	}
	if err := p.tmpl.ExecuteTemplate(w, "page.html", d); err != nil {
		return fmt.Errorf("status: render page: %w", err)
	}
	return nil
}

// tableViewOf renders table t of doc: its head, with the links that sort
// it, and its rows in the order sorts asks for.
func tableViewOf(t table, tabs []table, doc map[string]any, sorts map[string]sortSpec) tableView {
	spec, sorted := sorts[t.ID]
	tv := tableView{ID: t.ID, Title: t.Title, Sort: sortParam(spec, sorted)}
	for _, c := range t.Columns {
		cv := columnView{Key: c.Key, Label: c.Label, Fmt: c.Fmt}
		on := sorted && spec.Key == c.Key
		if on {
			cv.Class = "sorted-asc"
			if spec.Desc {
				cv.Class = "sorted-desc"
			}
		}
		next := maps.Clone(sorts)
		if next == nil {
			next = make(map[string]sortSpec, 1)
		}
		next[t.ID] = sortSpec{Key: c.Key, Desc: on && !spec.Desc} // a second click reverses
		cv.Href = sortQuery(next, tabs)
		tv.Columns = append(tv.Columns, cv)
	}
	rows := rowsOf(doc[t.ID])
	if sorted {
		sortRows(rows, spec)
	}
	var body strings.Builder
	body.Grow(512 * len(rows))
	writeRows(&body, t.Columns, rows)
	tv.Count, tv.Body = len(rows), template.HTML(body.String()) // escaped by writeRows
	return tv
}

// writeRows writes the rows of a table as HTML, as the template would but
// without its reflection: a page holds hundreds of rows. Every text and
// attribute value goes through html.EscapeString.
func writeRows(b *strings.Builder, cols []column, rows []map[string]any) {
	esc := html.EscapeString
	for _, row := range rows {
		b.WriteString(`<tr data-id="`)
		b.WriteString(esc(fmtInt(num(row["id"]))))
		b.WriteByte('"')
		if c := rowClass(row); c != "" {
			b.WriteString(` class="`)
			b.WriteString(esc(c))
			b.WriteByte('"')
		}
		b.WriteByte('>')
		for _, c := range cols {
			text, tags := format(c.Fmt, row[c.Key], row)
			b.WriteString(`<td data-col="`)
			b.WriteString(esc(c.Key))
			b.WriteString(`">`)
			b.WriteString(esc(text))
			for _, tag := range tags {
				b.WriteString(`<span class="tag tag-`)
				b.WriteString(esc(tag))
				b.WriteString(`">`)
				b.WriteString(esc(tag))
				b.WriteString(`</span>`)
			}
			b.WriteString(`</td>`)
		}
		b.WriteString(`</tr>`)
	}
}

func toJSONMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("status: encode snapshot: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("status: decode snapshot: %w", err)
	}
	return m, nil
}

func rowsOf(v any) []map[string]any {
	list, _ := v.([]any)
	rows := make([]map[string]any, 0, len(list))
	for _, it := range list {
		if m, ok := it.(map[string]any); ok {
			rows = append(rows, m)
		}
	}
	return rows
}
