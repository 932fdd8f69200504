package status

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestInternalError: the client gets 500 and "internal error" with an id,
// never the error's text (issue 19). The id, and the log line that carries
// it with the detail, are internal/errid's, tested there.
func TestInternalError(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/status?json", nil)
	internalError(slog.New(slog.DiscardHandler), w, r, errors.New("template: page.html:12: secret detail"))
	if body := w.Body.String(); w.Code != http.StatusInternalServerError || !strings.HasPrefix(body, "internal error (id ") || strings.Contains(body, "secret") {
		t.Errorf("answer = %d %q, want 500 \"internal error (id ...)\" without the error's text", w.Code, body)
	}
}
