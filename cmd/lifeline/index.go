package main

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
	"time"
)

//go:embed index.html
var indexHTML string

// indexData fills the index page.
type indexData struct {
	MaxDuration time.Duration
	TimeLimit   string
	Status      bool // the status page is mounted
}

func parseIndex() (*template.Template, error) {
	return template.New("index").Parse(indexHTML)
}

// serveIndex is GET /: a page that explains each scenario in a sentence,
// quotes its seed, and lets a person try it in the browser.
func (a *app) serveIndex(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	err := a.index.Execute(&buf, indexData{
		MaxDuration: maxDuration,
		TimeLimit:   limitString(a.cfg.timeLimit),
		Status:      a.status != nil,
	})
	if err != nil {
		serverError(a.log, w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = buf.WriteTo(w)
}
