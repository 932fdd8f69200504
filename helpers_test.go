package lifeline_test

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/internal/cstest"
	"github.com/lifeline-go/lifeline/internal/pooltest"
	"github.com/lifeline-go/lifeline/internal/wait"
	"github.com/lifeline-go/lifeline/lifelinetest"
)

// newPool returns the test kit's pool (lifelinetest.NewPool), shut down when
// the test ends and then checked for leaked goroutines.
func newPool(t testing.TB, opts ...lifeline.Option) *lifelinetest.Pool {
	t.Helper()
	return pooltest.New(t, opts...)
}

// sendRaw serves h behind p over HTTP/1 with the pool's socket-level
// detector (Pool.ConfigureServer), and sends request on a raw connection of
// its own, which it returns for the test to close or reset as a leaving
// client would. Both end with the test.
func sendRaw(t *testing.T, p *lifelinetest.Pool, h http.Handler, request string) *net.TCPConn {
	t.Helper()
	srv := cstest.Start(t, cstest.H1, p.Middleware()(h), p.ConfigureServer)
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	return c.(*net.TCPConn)
}

// waitFor polls cond for up to d (internal/wait) and reports whether it held.
func waitFor(d time.Duration, cond func() bool) bool { return wait.Until(d, cond) }

// handlerFunc is shorthand.
type handlerFunc = http.HandlerFunc

// mustRun returns the run of r or fails.
func mustRun(t testing.TB, r *http.Request) *lifeline.Run {
	rn, ok := lifeline.FromContext(r.Context())
	if !ok {
		t.Error("FromContext: no run")
		panic(http.ErrAbortHandler)
	}
	return rn
}

func timeNowPlusMinute() time.Time { return time.Now().Add(time.Minute) }

// runOf returns r's run.
func runOf(r *http.Request) *lifeline.Run {
	rn, ok := lifeline.FromContext(r.Context())
	if !ok {
		panic("no run")
	}
	return rn
}
