package status

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestInternalError: the client gets a short message and an id, the log
// gets the same id and the detail (issue 19).
func TestInternalError(t *testing.T) {
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/status?json", nil)
	internalError(log, w, r, errors.New("template: page.html:12: secret detail"))
	m := regexp.MustCompile(`^internal error \(id ([0-9a-f]{16})\)\n$`).FindStringSubmatch(w.Body.String())
	if w.Code != 500 || m == nil {
		t.Fatalf("answer = %d %q, want 500 \"internal error (id <16 hex>)\"", w.Code, w.Body.String())
	}
	if !strings.Contains(logBuf.String(), "id="+m[1]) || !strings.Contains(logBuf.String(), "secret detail") {
		t.Errorf("log does not have the id %s and the detail:\n%s", m[1], logBuf.String())
	}
}
