package conformance

import (
	"context"
	"time"
)

// Time limits: busy loop and sleep, set_time_limit restarting the clock,
// abort and timeout together, and the budget of shutdown functions
// (PHP-SEMANTICS.md §1, §3).

const (
	wallNotCPU = "Lifeline's time limit is wall-clock time; PHP's max_execution_time on Linux counts CPU time " +
		"(ITIMER_PROF, pitfall 5), so a sleeping PHP script never times out"
	timeoutAnswer = "a run stopped by its time limit before sending anything gets 503 with Retry-After " +
		"(WithTimeoutResponse); PHP's fatal error gives 500 with an empty body (display_errors=0)"
)

func timeScenarios() []*scenario {
	return []*scenario{
		{
			name:  "timeout-busy",
			about: "set_time_limit(1), then a 3 s busy loop, before any output.",
			goCode: func(s *script) {
				s.rn.SetTimeLimit(time1s)
				s.onShutdown(func(s *script) {
					s.status("shutdown")
					s.elapsed("shutdown")
				})
				s.mark("start")
				s.burn(3 * time.Second)
				s.mark("end")
			},
			diffs: []diff{
				{fact: "http", php: "500", lifeline: "503", verdict: different, reason: timeoutAnswer},
				{fact: "body", php: `""`, lifeline: `"lifeline: time limit exceeded\n"`, verdict: different, reason: timeoutAnswer},
				{fact: "framing", php: "chunked", lifeline: "length", verdict: better,
					reason: "Lifeline's timeout answer has a Content-Length"},
			},
		},
		{
			name:  "timeout-busy-after-output",
			about: "As timeout-busy, after a first output reached the client.",
			goCode: func(s *script) {
				s.rn.SetTimeLimit(time1s)
				s.onShutdown(func(s *script) {
					s.status("shutdown")
					s.elapsed("shutdown")
				})
				s.ready()
				s.burn(3 * time.Second)
				s.mark("end")
			},
			diffs: []diff{
				{fact: "end", php: "ok", lifeline: "truncated", verdict: better,
					reason: "Lifeline cuts a response short when the time limit stops the run after the headers went out, " +
						"so the client cannot take a partial body for a complete one; PHP ends it as if complete"},
				{fact: "reuse", php: "yes", lifeline: "(none)", verdict: better,
					reason: "the cut response cannot be followed by another request on its connection"},
			},
		},
		{
			name:  "timeout-sleep",
			about: "set_time_limit(1), then usleep(1.5 s), then output.",
			goCode: func(s *script) {
				s.rn.SetTimeLimit(time1s)
				s.onShutdown(func(s *script) {
					s.status("shutdown")
					s.elapsed("shutdown")
				})
				s.mark("start")
				s.sleep(1500 * time.Millisecond)
				s.mark("after-sleep")
				s.echo("done")
			},
			diffs: []diff{
				{fact: "http", php: "200", lifeline: "503", verdict: different, reason: wallNotCPU},
				{fact: "body", php: `"done"`, lifeline: `"lifeline: time limit exceeded\n"`, verdict: different, reason: wallNotCPU},
				{fact: "framing", php: "chunked", lifeline: "length", verdict: different, reason: wallNotCPU},
				{fact: "mark", php: "start,after-sleep", lifeline: "start", verdict: different, reason: wallNotCPU},
				{fact: "status", php: "shutdown=0", lifeline: "shutdown=2", verdict: different, reason: wallNotCPU},
			},
		},
		{
			name:  "set-time-limit-reset",
			about: "set_time_limit(1), 0.6 s of work, set_time_limit(1) again, 0.6 s more: the clock restarts.",
			goCode: func(s *script) {
				s.rn.SetTimeLimit(time1s)
				s.onShutdown(func(s *script) { s.status("shutdown") })
				s.burn(600 * time.Millisecond)
				s.mark("burned-1")
				s.rn.SetTimeLimit(time1s)
				s.burn(600 * time.Millisecond)
				s.mark("burned-2")
				s.echo("survived")
			},
			diffs: []diff{lengthNotChunked()},
		},
		{
			name: "abort-then-timeout",
			about: "ignore_user_abort(true); the client closes, 50 × 20 KB of output notices it; then set_time_limit(1) " +
				"and a busy loop.",
			plan: planLeave(false),
			goCode: func(s *script) {
				s.rn.IgnoreUserAbort(true)
				s.onShutdown(func(s *script) { s.status("shutdown") })
				s.ready()
				s.waitSignal("leave")
				s.bigOutput(50)
				s.status("after-output")
				s.rn.SetTimeLimit(time1s)
				s.burn(3 * time.Second)
				s.mark("end")
			},
		},
		{
			name: "timeout-then-abort",
			about: "ignore_user_abort(true), set_time_limit(1), first output, busy loop: timeout. The client closes while " +
				"the shutdown function runs, which then writes 50 × 20 KB and polls connection_aborted() for up to 1 s.",
			plan: planLeave(false),
			goCode: func(s *script) {
				s.rn.IgnoreUserAbort(true)
				s.rn.SetTimeLimit(time1s)
				s.onShutdown(func(s *script) {
					s.status("shutdown")
					s.waitSignal("leave")
					s.bigOutput(50)
					s.idlePoll(time1s)
					s.status("shutdown-after-output")
				})
				s.ready()
				s.burn(3 * time.Second)
				s.mark("end")
			},
			diffs: []diff{
				{fact: "status", php: "shutdown=2,shutdown-after-output=1", lifeline: "shutdown=2,shutdown-after-output=3",
					verdict: better, reason: "PHP assigns ABORTED over TIMEOUT when the abort comes second and loses the " +
						"timeout bit (pitfall 2); Lifeline only ever adds flags, as the PHP manual describes"},
			},
		},
		{
			name: "shutdown-budget",
			about: "set_time_limit(1); 0.6 s of work; a shutdown function that would work 2 s; a second shutdown " +
				"function after it.",
			goCode: func(s *script) {
				s.rn.SetTimeLimit(time1s)
				s.onShutdown(func(s *script) {
					s.mark("shutdown-start")
					if !s.burnShutdown(2 * time.Second) {
						return
					}
					s.mark("shutdown-end")
					s.elapsed("shutdown-end")
				})
				s.onShutdown(func(s *script) { s.mark("second-shutdown") })
				s.burn(600 * time.Millisecond)
				s.mark("end")
				s.echo("ok")
			},
			diffs: []diff{
				{fact: "stopped", php: "(none)", lifeline: "context deadline exceeded", verdict: different,
					reason: "both give shutdown functions only what is left of the time limit (0.4 s); PHP kills the " +
						"function with a fatal error, Lifeline cannot kill a goroutine and cancels the function's context instead"},
				{fact: "mark", php: "end,shutdown-start", lifeline: "end,shutdown-start,second-shutdown", verdict: better,
					reason: "PHP's fatal error in a shutdown function skips the remaining ones; Lifeline runs every " +
						"shutdown function exactly once"},
				{fact: "http", php: "500", lifeline: "200", verdict: different,
					reason: "PHP's timeout in the shutdown function is a fatal error, which turns the page the script " +
						"produced into a 500 (nothing was sent yet); Lifeline's shutdown functions are stopped by their " +
						"context, not by an error, and leave the response as it was"},
				lengthNotChunked(),
			},
		},
	}
}

// burnShutdown is burn for a shutdown function: Check does nothing there,
// so it watches the function's context, the way Lifeline bounds shutdown
// functions. It reports whether it ran the whole time.
func (s *script) burnShutdown(d time.Duration) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if err := s.ctx.Err(); err != nil {
			s.ev("stopped", context.Cause(s.ctx).Error())
			s.elapsed("stopped")
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}
