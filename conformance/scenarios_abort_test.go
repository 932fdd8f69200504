package conformance

// Client aborts: FIN and RST, with and without ignore_user_abort, with and
// without output after the abort (PHP-SEMANTICS.md §2).

// noticedWithoutOutput is the difference every "no output" scenario shows.
const noticedWithoutOutput = "PHP notices a client that left only when a write fails (pitfall 1); " +
	"Lifeline watches the socket (ConfigureServer, epoll) and sets Aborted at once"

func abortScenarios() []*scenario {
	return []*scenario{
		{
			name:  "abort-output",
			about: "Client reads the first output, then closes (FIN); the script then writes 50 × 20 KB. ignore_user_abort off.",
			plan:  planLeave(false),
			goCode: func(s *script) {
				s.onShutdown(func(s *script) {
					s.status("shutdown")
					s.echo("bye")
				})
				s.ready()
				s.waitSignal("leave")
				s.bigOutput(50)
				s.mark("after-output")
			},
		},
		{
			name:   "abort-reset",
			about:  "As abort-output, but the client resets the connection (SO_LINGER 0: RST).",
			script: "abort-output",
			plan:   planLeave(true),
			goCode: func(s *script) {
				s.onShutdown(func(s *script) {
					s.status("shutdown")
					s.echo("bye")
				})
				s.ready()
				s.waitSignal("leave")
				s.bigOutput(50)
				s.mark("after-output")
			},
		},
		{
			name:  "abort-no-output",
			about: "Client closes (FIN); the script then works for up to 1 s without output, polling connection_aborted(). ignore_user_abort off.",
			plan:  planLeave(false),
			goCode: func(s *script) {
				s.onShutdown(func(s *script) { s.status("shutdown") })
				s.ready()
				s.waitSignal("leave")
				s.idlePoll(time1s)
				s.status("main")
				s.mark("end")
			},
			diffs: []diff{
				{fact: "noticed", php: "nothing", lifeline: "(none)", verdict: better,
					reason: noticedWithoutOutput + ", so the run's next Check stops it (PHP runs on for nothing)"},
				{fact: "status", php: "main=0,shutdown=0", lifeline: "shutdown=1", verdict: better,
					reason: "PHP never learns that the client left; Lifeline's shutdown function sees Aborted"},
				{fact: "mark", php: "ready,end", lifeline: "ready", verdict: better,
					reason: "Lifeline stops the run at its next Check once the client is gone and aborts are not ignored"},
			},
		},
		{
			name:  "abort-ignore-output",
			about: "As abort-output with ignore_user_abort(true): the script writes on and ends.",
			plan:  planLeave(false),
			goCode: func(s *script) {
				s.ev("previous", boolInt(s.rn.IgnoreUserAbort(true)))
				s.onShutdown(func(s *script) {
					s.status("shutdown")
					s.echo("bye")
				})
				s.ready()
				s.waitSignal("leave")
				s.bigOutput(50)
				s.status("after-output")
				s.mark("end")
			},
		},
		{
			name:  "abort-ignore-no-output",
			about: "As abort-no-output with ignore_user_abort(true).",
			plan:  planLeave(false),
			goCode: func(s *script) {
				s.rn.IgnoreUserAbort(true)
				s.onShutdown(func(s *script) { s.status("shutdown") })
				s.ready()
				s.waitSignal("leave")
				s.idlePoll(time1s)
				s.status("main")
				s.mark("end")
			},
			diffs: []diff{
				{fact: "noticed", php: "nothing", lifeline: "abort", verdict: better, reason: noticedWithoutOutput},
				{fact: "status", php: "main=0,shutdown=0", lifeline: "main=1,shutdown=1", verdict: better,
					reason: "connection_status() reports the abort without any write"},
			},
		},
		{
			name: "abort-ignore-toggle",
			about: "ignore_user_abort(true); the client closes, 10 × 20 KB of output notices it; then " +
				"ignore_user_abort(false), an echo, ob_flush() and flush().",
			plan: planLeave(false),
			goCode: func(s *script) {
				s.rn.IgnoreUserAbort(true)
				s.onShutdown(func(s *script) { s.status("shutdown") })
				s.ready()
				s.waitSignal("leave")
				s.bigOutput(10)
				s.status("after-output")
				s.ev("previous", boolInt(s.rn.IgnoreUserAbort(false)))
				s.echo("x")
				s.mark("after-echo")
				s.obFlush()
				s.flush()
				s.mark("after-flush")
			},
			diffs: []diff{
				{fact: "mark", php: "ready,after-echo", lifeline: "ready", verdict: different,
					reason: "both stop the script once user aborts are no longer ignored; PHP disabled output at the " +
						"abort, so its echo goes nowhere and is not noticed, and the flush() that touches the socket " +
						"ends the script; Lifeline ends it at its next output, the echo, one statement earlier"},
			},
		},
		{
			name: "abort-during-shutdown",
			about: "The script ends normally; the client closes while a shutdown function runs, which then sets " +
				"ignore_user_abort(true) and writes 50 × 20 KB.",
			plan: planLeave(false),
			goCode: func(s *script) {
				s.onShutdown(func(s *script) {
					s.status("shutdown")
					s.waitSignal("leave")
					s.rn.IgnoreUserAbort(true)
					s.bigOutput(50)
					s.status("shutdown-after-output")
				})
				s.ready()
				s.mark("end")
			},
		},
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
