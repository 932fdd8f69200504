package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/compress"
	"github.com/lifeline-go/lifeline/output"
	"github.com/lifeline-go/lifeline/session"
)

// runHeader carries the run id from the client driver to both servers.
const runHeader = "X-Conformance-Run"

// script is the Go side's counterpart of testdata/php/_lib.php: a scenario's
// Go handler gets one and calls the same helpers the PHP script calls, with
// the same event lines as result. It lives on the run's goroutine.
type script struct {
	w     http.ResponseWriter
	r     *http.Request
	rn    *lifeline.Run
	out   *output.Stack
	ctx   context.Context // the run context, or a shutdown function's
	env   *goEnv
	run   string
	start time.Time
}

// goEnv is what every Go scenario handler shares: the event log and the
// signal directory, plus optional services (sessions).
type goEnv struct {
	log        *eventLog
	dir        string
	compressor *compress.Compressor
	sessions   *session.Manager
}

// handler turns a scenario's Go code into the handler that the pool wraps.
func (e *goEnv) handler(code func(s *script)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rn, ok := lifeline.FromContext(r.Context())
		if !ok {
			http.Error(w, "conformance: not inside a Lifeline run", http.StatusInternalServerError)
			return
		}
		s := &script{w: w, r: r, rn: rn, out: rn.Output(), ctx: r.Context(), env: e,
			run: r.Header.Get(runHeader), start: time.Now()}
		code(s)
	})
}

// ev logs an event, as ev() in PHP.
func (s *script) ev(k string, v any) { s.env.log.write(s.run, k, fmt.Sprint(v)) }

// mark logs how far the script got.
func (s *script) mark(at string) { s.ev("mark", at) }

// status logs the connection status (PHP's connection_status()).
func (s *script) status(at string) { s.ev("status", at+"="+strconv.Itoa(int(s.rn.Status()))) }

// elapsed logs the wall time since the run started (Lifeline's clock).
func (s *script) elapsed(at string) {
	s.ev("i.time", fmt.Sprintf("%s wall=%dms", at, time.Since(s.start).Milliseconds()))
}

// echo writes to the response, PHP's echo: it terminates the run (panics
// with lifeline.ErrTerminated) when the run must stop.
func (s *script) echo(str string) { _, _ = io.WriteString(s.w, str) }

// obFlush is PHP's ob_flush(): the top buffer goes one level down.
func (s *script) obFlush() {
	if err := s.out.Flush(); err != nil {
		s.ev("notice", "ob_flush: "+err.Error())
	}
}

// flush is PHP's flush(): what reached the bottom goes to the client.
func (s *script) flush() {
	if err := s.out.FlushClient(); err != nil {
		s.ev("notice", "flush: "+err.Error())
	}
}

// ready sends "ready\n" through every buffer to the client.
func (s *script) ready() {
	s.echo("ready\n")
	s.obFlush()
	s.flush()
	s.mark("ready")
}

// bigOutput writes n chunks of 20 KB, each pushed to the client.
func (s *script) bigOutput(n int) {
	chunk := strings.Repeat("x", 20480)
	for i := 1; i <= n; i++ {
		s.echo(chunk)
		s.obFlush()
		s.flush()
		s.ev("i.wrote", i)
	}
}

// waitSignal blocks until the client driver creates the signal file. It is
// harness plumbing, invisible to the scenario: it never terminates the run.
func (s *script) waitSignal(name string) bool {
	s.ev("wait", name)
	f := signalFile(s.env.dir, s.run, name)
	end := time.Now().Add(8 * time.Second)
	for {
		if _, err := os.Stat(f); err == nil {
			return true
		}
		if time.Now().After(end) {
			s.ev("error", "signal "+name+" never came")
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// burn is the Go side of PHP's busy loop: it works for d and, like PHP's
// VM at a loop back-edge, checks at each turn whether the run must stop.
// Lifeline's clock is wall time, so it need not spend the CPU: a turn is a
// millisecond's sleep, which leaves the CPU to the PHP side running at the
// same time.
func (s *script) burn(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		s.rn.Check()
		time.Sleep(time.Millisecond)
	}
}

// sleep is PHP's usleep(): blocking, then a check as PHP's VM does after an
// internal function returns.
func (s *script) sleep(d time.Duration) {
	time.Sleep(d)
	s.rn.Check()
}

// idlePoll works without output for up to d, polling connection_aborted()
// every 10 ms, checking at each turn like a PHP loop.
func (s *script) idlePoll(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		s.rn.Check()
		if s.rn.Aborted() {
			s.ev("noticed", "abort")
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.ev("noticed", "nothing")
}

// onShutdown registers fn as a shutdown function (register_shutdown_function).
// fn gets a script whose ctx is the shutdown function's context.
func (s *script) onShutdown(fn func(s *script)) {
	s.rn.RegisterShutdown(func(ctx context.Context, _ *lifeline.Run) {
		sd := *s
		sd.ctx = ctx
		fn(&sd)
	})
}

// setHeader is PHP's header(): it fails, with a logged warning, once the
// headers are sent.
func (s *script) setHeader(k, v string) {
	if err := s.out.SetHeader(k, v); err != nil {
		if errors.Is(err, output.ErrHeadersSent) {
			s.ev("warning", "header: headers already sent")
			return
		}
		s.ev("warning", "header: "+err.Error())
	}
}
