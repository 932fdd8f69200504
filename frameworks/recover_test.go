package frameworks_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
	chimw "github.com/go-chi/chi/v5/middleware"
	"github.com/gorilla/handlers"
	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"

	"github.com/lifeline-go/lifeline"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode) // no debug banner; Recovery logs its release-mode format
	os.Exit(m.Run())
}

// Issue 13 §3: termination is a panic, and real programs run their handlers
// behind a framework's recoverer inside the pool. Each recoverer below is the
// framework's own, used as its documentation shows.

// framework puts a plain handler behind one framework's recoverer.
type framework struct {
	name string
	// wrap returns the handler that goes inside the pool: h behind the
	// framework's recoverer, which logs to log.
	wrap func(h http.Handler, log *logBuffer) http.Handler
	// unseenLog is set for a recoverer that logs to os.Stderr, out of the
	// test's reach: only what the client gets is checked.
	unseenLog bool
	// logsAborts is set for a recoverer that, by design, logs a line (but no
	// stack) for http.ErrAbortHandler: gin's "broken connection" note.
	logsAborts bool
	// The framework's answer to a real handler panic, and what it logs.
	panicCode int
	panicBody string
	panicLog  string
}

var frameworks = []framework{
	{
		name: "chi",
		wrap: func(h http.Handler, log *logBuffer) http.Handler {
			r := chi.NewRouter()
			// Recoverer reports a panic to the request's log entry when
			// there is one (else it prints to os.Stderr): RequestLogger
			// puts ours there.
			r.Use(chimw.RequestLogger(chiFormatter{log}), chimw.Recoverer)
			r.Handle("/*", h)
			return r
		},
		panicCode: http.StatusInternalServerError,
		panicLog:  "panic recovered: boom",
	},
	{
		// Issue 13 §3's reproduction: Recoverer alone, writing its 500
		// straight to lifeline's writer. It answered 500 "partial " with an
		// exact Content-Length.
		name: "chi-bare",
		wrap: func(h http.Handler, _ *logBuffer) http.Handler {
			r := chi.NewRouter()
			r.Use(chimw.Recoverer)
			r.Handle("/*", h)
			return r
		},
		unseenLog: true,
		panicCode: http.StatusInternalServerError,
	},
	{
		name: "gin",
		wrap: func(h http.Handler, log *logBuffer) http.Handler {
			e := gin.New()
			e.Use(gin.RecoveryWithWriter(log))
			e.Any("/*path", gin.WrapH(h))
			return e
		},
		logsAborts: true,
		panicCode:  http.StatusInternalServerError,
		panicLog:   "panic recovered",
	},
	{
		name: "echo",
		wrap: func(h http.Handler, log *logBuffer) http.Handler {
			e := echo.New()
			e.Logger.SetOutput(log)
			e.Use(echomw.Recover())
			e.Any("/*", echo.WrapHandler(h))
			return e
		},
		panicCode: http.StatusInternalServerError,
		panicBody: `{"message":"Internal Server Error"}` + "\n",
		panicLog:  "[PANIC RECOVER] boom",
	},
	{
		name: "gorilla",
		wrap: func(h http.Handler, log *logBuffer) http.Handler {
			return handlers.RecoveryHandler(handlers.RecoveryLogger(log))(h)
		},
		panicCode: http.StatusInternalServerError,
		panicLog:  "boom",
	},
}

// chiFormatter is a chi LogFormatter whose entries log only panics.
type chiFormatter struct{ log *logBuffer }

func (f chiFormatter) NewLogEntry(*http.Request) chimw.LogEntry { return chiEntry(f) }

type chiEntry struct{ log *logBuffer }

func (chiEntry) Write(int, int, http.Header, time.Duration, any) {}

func (e chiEntry) Panic(v any, stack []byte) {
	fmt.Fprintf(e.log, "panic recovered: %v\n%s", v, stack)
}

// way is one way for a run to end.
type way struct {
	name  string
	opts  []lifeline.Option // the route's options
	abort bool              // the client leaves once the handler has started
	// handler returns the handler; it closes started once it runs.
	handler func(started chan<- struct{}) http.HandlerFunc
	// check asserts what the client got and the run's record.
	check func(t *testing.T, res result, rec lifeline.Record)
	// terminated: the run ends by termination, so no recoverer may log a
	// panic for it.
	terminated bool
}

// Small limits keep the suite at a few seconds; the abort case gets a long
// one so that a missed abort shows as a timeout, not as a pass.
var (
	shortLimit = []lifeline.Option{lifeline.WithTimeLimit(200 * time.Millisecond), lifeline.WithGracePeriod(time.Second)}
	longLimit  = []lifeline.Option{lifeline.WithTimeLimit(5 * time.Second), lifeline.WithGracePeriod(time.Second)}
)

// timeoutBody is lifeline's default timeout response.
const timeoutBody = "lifeline: time limit exceeded\n"

var ways = []way{
	{
		// The handler waits past its limit, then writes: terminated at
		// that Write with nothing sent. The recoverer must not turn it
		// into its 500 (chi) or an empty 200 (gin).
		name: "time limit, nothing sent",
		opts: shortLimit,
		handler: func(started chan<- struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				close(started)
				<-r.Context().Done() // the time limit cancels it
				io.WriteString(w, "late")
			}
		},
		check: func(t *testing.T, res result, rec lifeline.Record) {
			t.Helper()
			if res.err != nil {
				t.Fatalf("client: %v, want lifeline's 503", res.err)
			}
			if res.code != http.StatusServiceUnavailable || res.body != timeoutBody {
				t.Errorf("code = %d, body %q; want %d, %q", res.code, res.body, http.StatusServiceUnavailable, timeoutBody)
			}
			checkStatus(t, rec, lifeline.Timeout)
		},
		terminated: true,
	},
	{
		// "partial " sits in lifeline's 4096-byte output buffer when
		// rn.Check terminates the run: with chi-bare, the reproduction of
		// issue 13 §3.
		name: "time limit after partial output, Check loop",
		opts: shortLimit,
		handler: func(started chan<- struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				rn, ok := mustRun(w, r)
				if !ok {
					return
				}
				close(started)
				io.WriteString(w, "partial ")
				for end := time.Now().Add(workBound); time.Now().Before(end); {
					rn.Check()
					work()
				}
			}
		},
		check:      checkTimeoutOrCut,
		terminated: true,
	},
	{
		// "partial " reached the client with a 200 header: only a cut
		// stream can tell it the answer is incomplete.
		name: "time limit after flushed output, Check loop",
		opts: shortLimit,
		handler: func(started chan<- struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				rn, ok := mustRun(w, r)
				if !ok {
					return
				}
				close(started)
				io.WriteString(w, "partial ")
				if err := http.NewResponseController(w).Flush(); err != nil {
					http.Error(w, "flush: "+err.Error(), http.StatusTeapot)
					return
				}
				for end := time.Now().Add(workBound); time.Now().Before(end); {
					rn.Check()
					work()
				}
			}
		},
		check:      checkTimeoutOrCut,
		terminated: true,
	},
	{
		// A streaming handler: its writes outgrow the buffer, and one of
		// them is terminated.
		name: "time limit after partial output, write loop",
		opts: shortLimit,
		handler: func(started chan<- struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				close(started)
				io.WriteString(w, "partial ")
				chunk := strings.Repeat("x", 512)
				for end := time.Now().Add(workBound); time.Now().Before(end); {
					io.WriteString(w, chunk)
					work()
				}
			}
		},
		check:      checkTimeoutOrCut,
		terminated: true,
	},
	{
		// The client leaves while the handler waits; the handler's next
		// write is terminated. gin logged a full stack for this.
		name:  "client abort",
		opts:  longLimit,
		abort: true,
		handler: func(started chan<- struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				close(started)
				<-r.Context().Done() // the abort cancels it
				io.WriteString(w, "late")
			}
		},
		check: func(t *testing.T, res result, rec lifeline.Record) {
			t.Helper()
			if res.err == nil {
				t.Errorf("client got code = %d, body %q after it left; want its own cancellation error", res.code, res.body)
			}
			checkStatus(t, rec, lifeline.Aborted)
		},
		terminated: true,
	},
}

// checkTimeoutOrCut asserts that a run terminated by its time limit after
// some output either answered lifeline's 503 (the output was still
// buffered) or was cut short (the client's read fails), never a response
// that reads complete with the recoverer's code or a 200.
func checkTimeoutOrCut(t *testing.T, res result, rec lifeline.Record) {
	t.Helper()
	switch {
	case res.err != nil:
		t.Logf("cut: %v", res.err)
		if !isCut(res.err) {
			t.Errorf("client: %v (code = %d, body %q), want a cut stream or lifeline's 503", res.err, res.code, res.body)
		}
	case res.code != http.StatusServiceUnavailable || res.body != timeoutBody:
		t.Errorf("a complete-looking response: code = %d, body %q (%d bytes); want %d %q or a cut stream",
			res.code, abbrev(res.body), len(res.body), http.StatusServiceUnavailable, timeoutBody)
	}
	checkStatus(t, rec, lifeline.Timeout)
}

// checkStatus asserts the run's final status, and that a termination was
// not recorded as a handler panic.
func checkStatus(t *testing.T, rec lifeline.Record, want lifeline.Status) {
	t.Helper()
	if rec.Status != want {
		t.Errorf("Record.Status = %v (cause %v), want %v", rec.Status, rec.Cause, want)
	}
	if rec.Panicked {
		t.Errorf("Record.Panicked = true, want false: a termination is not a handler panic")
	}
}

// stackTrace matches what a panic report looks like: a goroutine dump or
// source positions of stack frames.
var stackTrace = regexp.MustCompile(`goroutine \d+|\.go:\d+|panic recovered|PANIC RECOVER`)

// checkQuiet asserts that the recoverer did not report a termination as a
// panic: no stack, and for the recoverers that pass http.ErrAbortHandler on
// (or should be stopped before logging), nothing at all.
func checkQuiet(t *testing.T, fw framework, log string) {
	t.Helper()
	if fw.unseenLog {
		return
	}
	if m := stackTrace.FindString(log); m != "" {
		t.Errorf("%s's recoverer logged a panic (%q) for a termination:\n%s", fw.name, m, abbrev(log))
		return
	}
	if !fw.logsAborts && log != "" {
		t.Errorf("%s's recoverer logged %q for a termination, want nothing", fw.name, abbrev(log))
	}
}

// abbrev shortens long logs and bodies in failure messages.
func abbrev(s string) string {
	const max = 1500
	if len(s) <= max {
		return s
	}
	return s[:max] + fmt.Sprintf("... (%d bytes)", len(s))
}

// TestRecoverers runs every way for a run to end behind every framework's
// recoverer, over HTTP/1 and HTTP/2.
func TestRecoverers(t *testing.T) {
	for _, fw := range frameworks {
		for _, wy := range ways {
			for _, pr := range protos {
				t.Run(fw.name+"/"+wy.name+"/"+pr.name, func(t *testing.T) {
					t.Parallel()
					log := new(logBuffer)
					started := make(chan struct{})
					f := newFixture(t, pr, fw.wrap(wy.handler(started), log), wy.opts...)
					var abort <-chan struct{}
					if wy.abort {
						abort = started
					}
					res := f.get(t, "/run", abort)
					if res.err == nil && res.proto != pr.major {
						t.Fatalf("response over HTTP/%d, want HTTP/%d", res.proto, pr.major)
					}
					select {
					case <-started:
					default:
						t.Fatalf("the handler never ran: code = %d, body %q, err %v", res.code, abbrev(res.body), res.err)
					}
					rec := f.record(t)
					wy.check(t, res, rec)
					if wy.terminated {
						checkQuiet(t, fw, log.String())
					}
					if t.Failed() {
						t.Logf("record: %+v\nrecoverer log:\n%s\nlifeline log:\n%s", rec, abbrev(log.String()), abbrev(f.pool.Log()))
					}
				})
			}
		}
	}
}

// TestRecoverersStillRecover shows the recoverers are not disabled: a real
// handler panic inside the pool gets each framework's own answer and log.
func TestRecoverersStillRecover(t *testing.T) {
	for _, fw := range frameworks {
		for _, pr := range protos {
			t.Run(fw.name+"/"+pr.name, func(t *testing.T) {
				t.Parallel()
				log := new(logBuffer)
				h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
				f := newFixture(t, pr, fw.wrap(h, log), shortLimit...)
				res := f.get(t, "/run", nil)
				if res.err != nil {
					t.Fatalf("client: %v, want %s's %d", res.err, fw.name, fw.panicCode)
				}
				if res.code != fw.panicCode || res.body != fw.panicBody {
					t.Errorf("code = %d, body %q; want %d, %q", res.code, res.body, fw.panicCode, fw.panicBody)
				}
				f.record(t) // the run ended and nothing is left
				if got := log.String(); !fw.unseenLog && !strings.Contains(got, fw.panicLog) {
					t.Errorf("%s's recoverer logged %q, want it to contain %q", fw.name, abbrev(got), fw.panicLog)
				}
			})
		}
	}
}
