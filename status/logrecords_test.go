package status_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/status"
)

// syncBuffer is a bytes.Buffer safe for a logger goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the lines written since the previous call.
func (b *syncBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(b.buf.String())
	b.buf.Reset()
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// textLogger logs to buf without the attributes that depend on timing.
func textLogger(buf *syncBuffer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: level,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey, "duration", "finished_after":
				return slog.Attr{}
			}
			return a
		}}))
}

func TestLogRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool, err := lifeline.NewPool(lifeline.WithTimeLimit(time.Second), lifeline.WithRecentRuns(2),
			lifeline.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		ok := pool.Middleware(lifeline.WithRoute("ok"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("hi"))
		}))
		slow := pool.Middleware(lifeline.WithRoute("slow"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rn, _ := lifeline.FromContext(r.Context())
			for {
				rn.Check() // terminated once the time limit expires
				time.Sleep(300 * time.Millisecond)
			}
		}))

		var buf syncBuffer
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			done <- status.LogRecords(ctx, pool, textLogger(&buf, slog.LevelDebug), slog.LevelInfo, time.Second)
		}()
		synctest.Wait() // the first poll: nothing yet

		steps := []struct {
			name string
			do   func()
			want []string
		}{
			{name: "a normal run, at level", do: func() { get(ok, "/ok?card=4111") }, want: []string{
				`level=INFO msg="lifeline: run ended" id=1 route=ok method=GET uri=/ok status=0 status_text=normal cause="" code=200 bytes_sent=2 finished=false shutdown_funcs=0 runaway=false panicked=false ignore_user_abort=false`,
			}},
			// panicked=false: a termination (lifeline.ErrTerminated) is
			// not a panic; the cause says why the run stopped.
			{name: "a timed-out run, at warn", do: func() { get(slow, "/slow") }, want: []string{
				`level=WARN msg="lifeline: run ended" id=2 route=slow method=GET uri=/slow status=2 status_text=timeout cause=time-limit code=503 bytes_sent=0 finished=false shutdown_funcs=0 runaway=false panicked=false ignore_user_abort=false`,
			}},
			{name: "nothing new", do: func() {}},
			{name: "evicted before the poll", do: func() {
				for range 4 {
					get(ok, "/ok")
					synctest.Wait() // the record is stored just after the response
				}
			}, want: []string{
				`level=WARN msg="status: run records left the ring before they were logged" missed=2`,
				`level=INFO msg="lifeline: run ended" id=5 route=ok method=GET uri=/ok status=0 status_text=normal cause="" code=200 bytes_sent=2 finished=false shutdown_funcs=0 runaway=false panicked=false ignore_user_abort=false`,
				`level=INFO msg="lifeline: run ended" id=6 route=ok method=GET uri=/ok status=0 status_text=normal cause="" code=200 bytes_sent=2 finished=false shutdown_funcs=0 runaway=false panicked=false ignore_user_abort=false`,
			}},
		}
		for _, st := range steps {
			st.do()
			synctest.Wait()
			if got := buf.lines(); len(got) != 0 {
				t.Errorf("%s: logged before the next poll: %q", st.name, got)
			}
			time.Sleep(time.Second)
			synctest.Wait()
			got := buf.lines()
			if strings.Join(got, "\n") != strings.Join(st.want, "\n") {
				t.Errorf("%s: logged\n%s\nwant\n%s", st.name, strings.Join(got, "\n"), strings.Join(st.want, "\n"))
			}
		}

		// Stopping logs what ended since the last poll, then returns nil.
		get(ok, "/last")
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("LogRecords returned %v, want nil", err)
		}
		if got := buf.lines(); len(got) != 1 || !strings.Contains(got[0], "uri=/last") {
			t.Errorf("final poll logged %q, want the /last run", got)
		}
		if err := pool.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

func TestLogRecordsLevel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool, err := lifeline.NewPool()
		if err != nil {
			t.Fatal(err)
		}
		get(pool.Middleware()(http.NotFoundHandler()), "/fine")
		get(pool.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusBadGateway)
		})), "/bad")
		synctest.Wait()
		var buf syncBuffer
		ctx, cancel := context.WithCancel(t.Context())
		cancel() // one final poll only
		// Debug is below the logger's level: only the 5xx run shows, raised to warn.
		if err := status.LogRecords(ctx, pool, textLogger(&buf, slog.LevelInfo), slog.LevelDebug, time.Second); err != nil {
			t.Fatal(err)
		}
		got := buf.lines()
		if len(got) != 1 || !strings.HasPrefix(got[0], "level=WARN") || !strings.Contains(got[0], "uri=/bad") {
			t.Errorf("logged %q, want the /bad run only, at WARN", got)
		}
		if err := pool.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

func TestLogRecordsErrors(t *testing.T) {
	pool := newPool(t)
	ctx := t.Context()
	tests := []struct {
		name     string
		pool     *lifeline.Pool
		interval time.Duration
		opts     []status.Option
		want     error
	}{
		{name: "nil pool", interval: time.Second, want: status.ErrNilPool},
		{name: "zero interval", pool: pool, want: status.ErrInvalidOption},
		{name: "negative interval", pool: pool, interval: -time.Second, want: status.ErrInvalidOption},
		{name: "bad option", pool: pool, interval: time.Second, opts: []status.Option{status.WithRefresh(-1)}, want: status.ErrInvalidOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := status.LogRecords(ctx, tt.pool, nil, slog.LevelInfo, tt.interval, tt.opts...)
			if !errors.Is(err, tt.want) {
				t.Errorf("LogRecords: err = %v, want %v", err, tt.want)
			}
		})
	}
}
