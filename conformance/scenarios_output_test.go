package conformance

import (
	"strconv"
	"strings"

	"github.com/lifeline-go/lifeline/output"
)

// The output layer: levels, chunk sizes, handler phases, declining
// handlers, headers sent (PHP-SEMANTICS.md §5), and a client that stops
// reading.

// obHandler returns an output handler that logs each call as
// "name:phase:length" and returns f(buf), or declines when f is nil.
func (s *script) obHandler(name string, f func([]byte) []byte) output.Handler {
	return output.HandlerFunc(func(buf []byte, ph output.Op) ([]byte, error) {
		s.ev("ob", name+":"+strconv.Itoa(int(ph))+":"+strconv.Itoa(len(buf)))
		if f == nil {
			return nil, output.ErrDecline
		}
		return f(buf), nil
	})
}

func (s *script) obStart(h output.Handler, chunk int) {
	if err := s.out.Start(h, chunk, output.StdFlags); err != nil {
		s.ev("notice", "ob_start: "+err.Error())
	}
}

func (s *script) obLength() string {
	n, ok := s.out.Length()
	if !ok {
		return "false"
	}
	return strconv.Itoa(n)
}

func (s *script) headersSent() string {
	if s.out.HeadersSent() {
		return "yes"
	}
	return "no"
}

func upper(b []byte) []byte { return []byte(strings.ToUpper(string(b))) }

const flushHeaders = "PHP-FPM's flush() only flushes the FastCGI buffer and sends no headers when no body byte was " +
	"written; Lifeline's FlushClient sends them, as PHP under Apache does (php_apache_sapi_flush)"

func outputScenarios() []*scenario {
	return []*scenario{
		{
			name: "ob-levels",
			about: "ob_start(handler, chunk 4) over the base buffer: writes, ob_flush, ob_clean, ob_end_flush; levels, " +
				"length, contents; headers_sent before and after 5000 bytes overflow the base buffer; header() after.",
			headers: []string{"X-Late"},
			goCode: func(s *script) {
				s.ev("level", s.out.Level())
				s.obStart(s.obHandler("h", upper), 4)
				s.ev("level", s.out.Level())
				s.echo("ab")
				s.echo("cde")
				s.echo("f")
				s.obFlush()
				s.echo("gh")
				if err := s.out.Clean(); err != nil {
					s.ev("notice", "ob_clean: "+err.Error())
				}
				s.echo("ij")
				s.ev("length", s.obLength())
				contents, _ := s.out.Contents()
				s.ev("contents", string(contents))
				s.ev("sent", s.headersSent())
				if err := s.out.EndFlush(); err != nil {
					s.ev("notice", "ob_end_flush: "+err.Error())
				}
				s.ev("level", s.out.Level())
				s.ev("base", s.obLength())
				s.echo(strings.Repeat("z", 5000))
				s.ev("sent", s.headersSent())
				s.setHeader("X-Late", "1")
				s.ev("level", s.out.Level())
			},
		},
		{
			name:  "ob-decline",
			about: "An output handler that returns false (declines) at its first ob_flush; later output bypasses it; ob_end_flush.",
			goCode: func(s *script) {
				s.obStart(s.obHandler("d", nil), 0)
				s.echo("raw")
				s.obFlush()
				s.echo("-more")
				s.ev("length", s.obLength())
				s.ev("level", s.out.Level())
				if err := s.out.EndFlush(); err != nil {
					s.ev("notice", "ob_end_flush: "+err.Error())
				}
				s.ev("level", s.out.Level())
			},
			diffs: []diff{
				lengthNotChunked(),
			},
		},
		{
			name:  "ob-chunks",
			about: "Chunk sizes 0, 1, 2, 3, 5: handler calls for writes of 1, 2, 1 and 4 bytes, then ob_end_clean (php-src ob_start_basic_004).",
			goCode: func(s *script) {
				for _, size := range []int{0, 1, 2, 3, 5} {
					s.obStart(s.obHandler(strconv.Itoa(size), func(b []byte) []byte { return b }), size)
					for _, w := range []string{"a", "bb", "c", "dddd"} {
						s.echo(w)
					}
					if err := s.out.EndClean(); err != nil {
						s.ev("notice", "ob_end_clean: "+err.Error())
					}
				}
				s.echo("done")
			},
			diffs: []diff{lengthNotChunked()},
		},
		{
			name:    "flush-headers",
			about:   "header(X-Before), flush() with no output: the headers go out; header(X-After) then fails.",
			headers: []string{"X-Before", "X-After"},
			goCode: func(s *script) {
				s.setHeader("X-Before", "1")
				s.ev("sent", s.headersSent())
				s.flush()
				s.ev("sent", s.headersSent())
				s.setHeader("X-After", "1")
				s.echo("body")
			},
			diffs: []diff{
				{fact: "sent", php: "no,no", lifeline: "no,yes", verdict: different, reason: flushHeaders},
				{fact: "hdr.X-After", php: "1", lifeline: "-", verdict: different, reason: flushHeaders},
				{fact: "warning", php: "(none)", lifeline: "header: headers already sent", verdict: different, reason: flushHeaders},
			},
			note: "PHP-SEMANTICS.md §5.2 says flush() sends the headers under FPM too; PHP 8.2's FPM does not " +
				"(sapi_cgibin_flush only calls fcgi_flush)",
		},
		{
			name:   "stop-reading",
			about:  "8 MB of output; the client, with a 4 KB receive buffer, reads nothing for 1 s, then everything. nginx unbuffered.",
			plan:   planStopReading(time1s),
			goCode: stopReading,
		},
		{
			name:   "stop-reading-buffered",
			about:  "As stop-reading, behind nginx with its default fastcgi_buffering on.",
			script: "stop-reading",
			phpLoc: "/buffered/",
			plan:   planStopReading(time1s),
			goCode: stopReading,
			diffs: []diff{
				{fact: "written-before-read", php: "true", lifeline: "false", verdict: different,
					reason: "nginx's default fastcgi_buffering absorbs the whole response (in memory and a temporary " +
						"file), so the PHP worker finishes while the client is not reading; Lifeline writes to the " +
						"socket and the run waits for the client (backpressure), as PHP does behind an unbuffered nginx"},
			},
		},
	}
}

// stopReading writes 8 MB, as stop-reading.php.
func stopReading(s *script) {
	s.onShutdown(func(s *script) { s.status("shutdown") })
	chunk := strings.Repeat("y", 65536)
	for range 128 {
		s.echo(chunk)
	}
	s.mark("written")
	s.status("main")
}
