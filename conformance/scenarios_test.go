package conformance

import "time"

// Scenario durations: short, so that the whole suite stays well under a
// minute.
const (
	time1s = time.Second
)

// scenarios returns every scenario, in the order of the report.
func scenarios() []*scenario {
	var all []*scenario
	for _, group := range [][]*scenario{
		basicScenarios(),
		abortScenarios(),
		timeScenarios(),
		earlyScenarios(),
		outputScenarios(),
		sessionScenarios(),
	} {
		all = append(all, group...)
	}
	return all
}

// lengthNotChunked is the difference of every response whose body is
// complete when it is sent: PHP-FPM gives nginx no length, so nginx sends
// it chunked.
func lengthNotChunked() diff {
	return diff{fact: "framing", php: "chunked", lifeline: "length", verdict: better,
		reason: "Lifeline knows the whole body when the run ends and sends an exact Content-Length; " +
			"PHP-FPM sends none, so nginx answers chunked"}
}

func basicScenarios() []*scenario {
	return []*scenario{
		{
			name:  "normal-end",
			about: "Echo, end normally; the shutdown function echoes too. Client reads all, then reuses the connection.",
			goCode: func(s *script) {
				s.onShutdown(func(s *script) {
					s.status("shutdown")
					s.echo("|shutdown")
				})
				s.mark("start")
				s.echo("hello")
				s.status("main")
				s.mark("end")
			},
			diffs: []diff{lengthNotChunked()},
		},
		{
			name:  "fatal-error",
			about: "Some output, still buffered, then an uncaught error (Go: a panic); the shutdown function echoes.",
			goCode: func(s *script) {
				s.onShutdown(func(s *script) {
					s.status("shutdown")
					s.echo("|shutdown")
				})
				s.echo("partial")
				s.mark("before")
				panic("boom")
			},
			diffs: []diff{
				{fact: "body", php: `"partial|shutdown"`, lifeline: `"500 internal server error\n"`, verdict: better,
					reason: "PHP sends the half-made page with its 500 (display_errors=0); Lifeline drops the run's " +
						"output and answers a plain 500, logging the panic with its stack"},
				lengthNotChunked(),
			},
		},
	}
}
