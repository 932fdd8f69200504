package status_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/server"
	"github.com/lifeline-go/lifeline/status"
)

// adminGet GETs url on a fresh connection and returns the code and body.
func adminGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestAdminDuringDrain: served on package server's admin listener, the
// status page and the metrics stay reachable while the server drains a run
// that is still working, and show it, although the main listener refuses
// connections; once the drain is over, the admin listener is closed too.
func TestAdminDuringDrain(t *testing.T) {
	draining := make(chan struct{})
	log := slog.New(&signalHandler{msg: "server: draining", c: draining})
	pool := newPool(t, lifeline.WithLogger(log))
	st, err := status.New(pool)
	if err != nil {
		t.Fatal(err)
	}
	admin := http.NewServeMux()
	admin.Handle("/status", st)
	admin.Handle("/metrics", st.Metrics())

	started, release := make(chan struct{}), make(chan struct{})
	work := pool.Middleware(lifeline.WithRoute("work"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, _ := lifeline.FromContext(r.Context())
		_, _ = io.WriteString(w, "accepted\n")
		_ = rn.Finish()
		close(started)
		<-release // work after Finish, which the drain waits for
	}))

	s, err := server.New(pool, work, server.WithAddr("127.0.0.1:0"), server.WithAdmin("127.0.0.1:0", admin),
		server.WithDrainTimeout(30*time.Second), server.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := s.Listen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	adm, err := s.ListenAdmin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	adminURL := "http://" + adm.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- s.Serve(ctx, ln) }()
	if code, body := adminGet(t, "http://"+ln.Addr().String()+"/work"); code != http.StatusOK {
		t.Fatalf("GET /work: %d %q", code, body)
	}
	<-started

	cancel() // the signal: the drain begins
	<-draining

	if c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second); err == nil {
		c.Close()
		t.Error("the main listener still accepts during the drain")
	}
	code, body := adminGet(t, adminURL+"/status?json")
	var snap struct {
		ActiveRuns int `json:"active_runs"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &snap) != nil || snap.ActiveRuns != 1 {
		t.Errorf("admin /status?json during the drain: %d %q; want 200 with active_runs 1", code, body)
	}
	code, body = adminGet(t, adminURL+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, "lifeline_runs_after_finish 1") {
		t.Errorf("admin /metrics during the drain: %d; want 200 with lifeline_runs_after_finish 1:\n%s", code, body)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned %v before the run ended", err)
	default:
	}

	close(release)
	if err := <-stopped; err != nil {
		t.Errorf("Serve = %v, want nil after a clean drain", err)
	}
	if c, err := net.DialTimeout("tcp", adm.Addr().String(), 5*time.Second); err == nil {
		c.Close()
		t.Error("the admin listener still accepts after Serve returned")
	}
}

func TestAdminOptions(t *testing.T) {
	pool := newPool(t)
	h := http.NotFoundHandler()
	if _, err := server.New(pool, h, server.WithAdmin("", nil)); !errors.Is(err, server.ErrInvalidOption) {
		t.Errorf("New(WithAdmin(nil handler)) = %v, want ErrInvalidOption", err)
	}
	s, err := server.New(pool, h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListenAdmin(context.Background()); !errors.Is(err, server.ErrInvalidOption) {
		t.Errorf("ListenAdmin without WithAdmin = %v, want ErrInvalidOption", err)
	}
}

// signalHandler is a slog.Handler that closes c at the first record with
// message msg, and discards everything.
type signalHandler struct {
	msg string
	c   chan struct{}
}

func (h *signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *signalHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.onceDo(func() { close(h.c) })
	}
	return nil
}
func (h *signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *signalHandler) WithGroup(string) slog.Handler      { return h }

var signalOnce sync.Mutex

func (h *signalHandler) onceDo(f func()) {
	signalOnce.Lock()
	defer signalOnce.Unlock()
	select {
	case <-h.c:
	default:
		f()
	}
}
