package errid_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/lifeline-go/lifeline/internal/errid"
)

func TestRespond(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/x?token=SECRET", nil)
	id := errid.Respond(log, rec, r, http.StatusServiceUnavailable, "store unavailable", errors.New("dial tcp 10.1.2.3:6379: refused"))

	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) {
		t.Errorf("id = %q, want 16 hex digits", id)
	}
	if got, want := rec.Body.String(), "store unavailable (id "+id+")\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("code %d, Cache-Control %q; want 503, no-store", rec.Code, rec.Header().Get("Cache-Control"))
	}
	for _, want := range []string{"id=" + id, "10.1.2.3:6379", "path=/x"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log %q lacks %q", logs.String(), want)
		}
	}
	if strings.Contains(logs.String(), "SECRET") {
		t.Errorf("log %q has the query string", logs.String())
	}
	if errid.New() == errid.New() {
		t.Error("two ids are equal")
	}
}
