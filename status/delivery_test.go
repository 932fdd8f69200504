package status_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/status"
)

// TestRecentDelivery: the status page says whether a finished run's answer
// reached its client (here a real client on loopback that reads it all),
// and says nothing of delivery for a run that did not call Finish.
func TestRecentDelivery(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("delivery is read from the socket on Linux only")
	}
	pool := newPool(t)
	h := pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/finish" {
			rn, _ := lifeline.FromContext(r.Context())
			_, _ = io.WriteString(w, "answered early\n")
			_ = rn.Finish()
			if d, _ := rn.AwaitDelivery(r.Context()); d != lifeline.Delivered {
				t.Errorf("AwaitDelivery = %v, want delivered", d)
			}
			return
		}
		_, _ = io.WriteString(w, "plain\n")
	}))
	ts := httptest.NewUnstartedServer(h)
	pool.ConfigureServer(ts.Config)
	ts.Start()
	defer ts.Close()
	for _, path := range []string{"/finish", "/plain"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	waitFor(t, "both runs to end", func() bool { return len(pool.Recent()) == 2 && len(pool.Active()) == 0 })
	st, err := status.New(pool)
	if err != nil {
		t.Fatal(err)
	}
	var snap status.Snapshot
	if err := json.Unmarshal(get(st, "/status?json&full").Body.Bytes(), &snap); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/finish": "delivered", "/plain": ""}
	if len(snap.Recent) != len(want) {
		t.Fatalf("%d recent runs, want %d", len(snap.Recent), len(want))
	}
	for _, r := range snap.Recent {
		if got := r.Delivery; got != want[r.URI] {
			t.Errorf("%s: delivery %q, want %q", r.URI, got, want[r.URI])
		}
	}
}
