package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/server"
)

// TestDrainFunc: work given with WithDrainFunc (a job queue's workers) is
// started when the drain begins, with a context that ends at the drain
// deadline; Serve, and the admin listener with it, wait for it to return, and
// its error is Serve's.
func TestDrainFunc(t *testing.T) {
	errQueue := errors.New("queue: 1 job left for later")
	for _, tt := range []struct {
		name    string
		ret     error
		wantErr error
	}{
		{"clean", nil, nil},
		{"error", errQueue, errQueue},
	} {
		t.Run(tt.name, func(t *testing.T) {
			log, _ := testLogger(t)
			pool := newPool(t, log)
			started, release := make(chan time.Time, 1), make(chan struct{})
			var deadline time.Time
			drain := func(ctx context.Context) error {
				deadline, _ = ctx.Deadline()
				started <- time.Now()
				<-release
				return tt.ret
			}
			admin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "watching") })
			const drainTimeout = 5 * time.Second
			s, err := server.New(pool, http.NotFoundHandler(), server.WithAddr("127.0.0.1:0"), server.WithLogger(log),
				server.WithDrainTimeout(drainTimeout), server.WithAdmin("127.0.0.1:0", admin), server.WithDrainFunc(drain))
			if err != nil {
				t.Fatal(err)
			}
			ln, err := s.Listen(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			aln, err := s.ListenAdmin(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			r := serveOn(t, s, ln)
			r.cancel() // as a signal would
			began := <-started
			if d := deadline.Sub(began); d <= 0 || d > drainTimeout {
				t.Errorf("the drain function's deadline is %v after it started, want within the drain timeout %v", d, drainTimeout)
			}
			resp, err := http.Get("http://" + aln.Addr().String() + "/")
			if err != nil {
				t.Fatalf("admin listener while the drain function runs: %v", err)
			}
			resp.Body.Close()
			select {
			case err := <-r.done:
				r.done <- err // for the cleanup's stop
				t.Fatalf("Serve returned (%v) while the drain function was running", err)
			default:
			}
			close(release)
			if err := r.stop(); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("Serve = %v, want %v", err, tt.wantErr)
			}
			if _, err := http.Get("http://" + aln.Addr().String() + "/"); err == nil {
				t.Error("the admin listener still answers after Serve returned")
			}
		})
	}
	log, _ := testLogger(t)
	if _, err := server.New(newPool(t, log), http.NotFoundHandler(), server.WithDrainFunc(nil)); !errors.Is(err, server.ErrInvalidOption) {
		t.Errorf("New(WithDrainFunc(nil)) = %v, want ErrInvalidOption", err)
	}
}
