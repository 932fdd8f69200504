package conformance

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lifeline-go/lifeline/output"
)

// Shutdown functions' order and output, answering early (the seed's recipe,
// with and without compression, behind nginx buffered and unbuffered), and
// fastcgi_finish_request against Finish (PHP-SEMANTICS.md §4, §5.5, §6).

const acceptGzip = "Accept-Encoding: gzip"

// withCompression puts Lifeline's compression handler under the scenario's
// handler, as nginx's gzip or PHP's zlib.output_compression sit under a
// PHP script.
func withCompression(env *goEnv, h http.Handler) http.Handler { return env.compressor.Handler(h) }

// earlyClose is the seed's recipe (close-connection-early-answer.txt), with
// a 1.6 KB answer (worth compressing), followed by background work; every
// early-close scenario runs it.
func earlyClose(s *script) {
	s.onShutdown(func(s *script) { s.status("shutdown") })
	if err := s.out.Start(nil, 0, output.StdFlags); err != nil {
		s.ev("notice", "ob_start: "+err.Error())
	}
	s.echo(strings.Repeat("We'll email you as soon as this is done.\n", 40))
	size, _ := s.out.Length()
	s.setHeader("Content-Length", strconv.Itoa(size))
	s.setHeader("Connection", "close")
	if err := s.out.EndFlush(); err != nil {
		s.ev("notice", "ob_end_flush: "+err.Error())
	}
	s.obFlush()
	s.flush()
	s.mark("answered")
	s.sleep(400 * time.Millisecond)
	s.status("background")
	s.mark("end")
}

// finish is fastcgi_finish_request twice, then late output, then work.
func finish(s *script) {
	s.onShutdown(func(s *script) {
		time.Sleep(300 * time.Millisecond)
		s.status("shutdown")
	})
	s.echo("Test Start")
	s.ev("finish", s.rn.Finish() == nil)
	s.ev("finish", s.rn.Finish() == nil)
	s.echo("late")
	s.status("after-echo")
	s.flush()
	s.status("after-flush")
	s.mark("end")
}

const gzipEarly = "gzip broke PHP's early close: nginx's gzip drops the script's Content-Length and ends the " +
	"compressed stream only when the script ends (the seed's mod_deflate warning); Lifeline's compressor takes " +
	"a Content-Length equal to the buffered bytes as the whole body, compresses it at once and corrects the length"

const finishLate = "after fastcgi_finish_request() FPM has closed the socket, so flush() fails and PHP " +
	"terminates the script (bugs.php.net #68772, pitfall 14); Lifeline discards late output without error and the run goes on"

// connectionClose is the difference of the recipe's "Connection: close":
// PHP's value of reuse is what nginx did with the kept-alive connection.
func connectionClose(php string) diff {
	return diff{fact: "reuse", php: php, lifeline: "closed", verdict: different,
		reason: "Lifeline honours the recipe's Connection: close and closes the connection once the run ends; " +
			"nginx drops PHP's Connection header and keeps the connection alive" + map[string]string{
			"after-end": ", but cannot serve the next request on it until the script ends",
			"yes":       "",
		}[php] + " (Finish frees it at once, see finish)"}
}

var text3K = strings.Repeat("Lifeline conformance line.\n", 120)

func earlyScenarios() []*scenario {
	return []*scenario{
		{
			name:  "shutdown-order",
			about: "Shutdown functions a and b; a registers c. All echo, through an ob_start handler left open.",
			goCode: func(s *script) {
				err := s.out.Start(output.HandlerFunc(func(buf []byte, ph output.Op) ([]byte, error) {
					s.ev("ob", "upper:"+strconv.Itoa(int(ph))+":"+strconv.Itoa(len(buf)))
					return []byte(strings.ToUpper(string(buf))), nil
				}), 0, output.StdFlags)
				if err != nil {
					s.ev("notice", "ob_start: "+err.Error())
				}
				s.onShutdown(func(s *script) {
					s.ev("shutdown", "a="+strconv.Itoa(int(s.rn.Status())))
					s.echo("a")
					s.onShutdown(func(s *script) {
						s.ev("shutdown", "c="+strconv.Itoa(int(s.rn.Status())))
						s.echo("c")
					})
				})
				s.onShutdown(func(s *script) {
					s.ev("shutdown", "b="+strconv.Itoa(int(s.rn.Status())))
					s.echo("b")
				})
				s.echo("main-")
				s.mark("end")
			},
			diffs: []diff{lengthNotChunked()},
		},
		{
			name:   "early-close",
			about:  "The seed's early-close recipe (ob_start, Content-Length, Connection: close, flushes), then 0.4 s of work. nginx unbuffered.",
			script: "early-close",
			goCode: earlyClose,
			diffs:  []diff{connectionClose("after-end")},
		},
		{
			name:   "early-close-buffered",
			about:  "As early-close, behind nginx with its default fastcgi_buffering on.",
			script: "early-close",
			phpLoc: "/buffered/",
			goCode: earlyClose,
			diffs: []diff{
				{fact: "complete", php: "after-end", lifeline: "before-end", verdict: better,
					reason: "nginx's default fastcgi_buffering holds PHP's flushed answer until the script ends; " +
						"Lifeline's flush reaches the client"},
				connectionClose("yes"),
			},
		},
		{
			name:   "early-close-gzip",
			about:  "As early-close, Accept-Encoding: gzip, nginx gzip on (the seed's mod_deflate case); Lifeline's compression handler.",
			script: "early-close",
			phpLoc: "/gz/",
			plan:   planRead(acceptGzip),
			goWrap: withCompression,
			goCode: earlyClose,
			diffs: []diff{
				{fact: "framing", php: "chunked", lifeline: "length", verdict: better, reason: gzipEarly},
				{fact: "complete", php: "after-end", lifeline: "before-end", verdict: better, reason: gzipEarly},
				connectionClose("yes"),
			},
		},
		{
			name:   "early-close-zlib",
			about:  "As early-close, Accept-Encoding: gzip, PHP's zlib.output_compression on; Lifeline's compression handler.",
			script: "early-close",
			phpLoc: "/zlib/",
			plan:   planRead(acceptGzip),
			goWrap: withCompression,
			goCode: earlyClose,
			diffs: []diff{
				{fact: "coding", php: "-", lifeline: "gzip", verdict: better,
					reason: "header('Content-Length') switches PHP's zlib compression off (req #44164); " +
						"Lifeline compresses the declared whole body and corrects the length"},
				{fact: "complete", php: "after-end", lifeline: "before-end", verdict: better,
					reason: "zlib.output_compression adds an output level, so the recipe's ob_end_flush() + " +
						"ob_flush() leave PHP's answer in the output_buffering level, which flush() does not touch, " +
						"until the script ends; Lifeline's compressor takes the base buffer's place, so the recipe " +
						"reaches it"},
				connectionClose("yes"),
			},
		},
		{
			name:   "finish",
			about:  "echo, fastcgi_finish_request() twice (Finish), a small echo, flush(), then 0.3 s of work in a shutdown function.",
			goCode: finish,
			diffs: []diff{
				lengthNotChunked(),
				{fact: "status", php: "after-echo=0,shutdown=1", lifeline: "after-echo=0,after-flush=0,shutdown=0",
					verdict: better, reason: finishLate},
				{fact: "mark", php: "(none)", lifeline: "end", verdict: better, reason: finishLate},
			},
		},
		{
			name:  "finish-ignore",
			about: "As finish, with ignore_user_abort(true).",
			goCode: func(s *script) {
				s.rn.IgnoreUserAbort(true)
				finish(s)
			},
			diffs: []diff{
				lengthNotChunked(),
				{fact: "status", php: "after-echo=0,after-flush=1,shutdown=1", lifeline: "after-echo=0,after-flush=0,shutdown=0",
					verdict: better, reason: "finishing is not an abort: PHP marks the run ABORTED when flush() writes to " +
						"the closed FastCGI socket; Lifeline discards output after Finish and leaves the status alone"},
			},
		},
		{
			name:   "finish-gzip",
			about:  "3 KB of text, Accept-Encoding: gzip, compressed (zlib.output_compression; Lifeline's handler), fastcgi_finish_request(), 0.3 s of work.",
			phpLoc: "/zlib/",
			plan:   planRead(acceptGzip),
			goWrap: withCompression,
			goCode: func(s *script) {
				s.setHeader("Content-Type", "text/plain")
				s.echo(text3K)
				if err := s.rn.Finish(); err != nil {
					s.ev("notice", "finish: "+err.Error())
				}
				time.Sleep(300 * time.Millisecond)
				s.mark("end")
			},
			diffs: []diff{
				{fact: "framing", php: "chunked", lifeline: "length", verdict: better,
					reason: "Finish compresses the whole body at once and sends the exact compressed Content-Length; " +
						"PHP never computes one, so nginx answers chunked"},
			},
		},
		{
			name:   "gzip",
			about:  "3 KB of text, Accept-Encoding: gzip, compressed (zlib.output_compression; Lifeline's handler), normal end.",
			phpLoc: "/zlib/",
			plan:   planRead(acceptGzip),
			goWrap: withCompression,
			goCode: func(s *script) {
				s.setHeader("Content-Type", "text/plain")
				s.echo(text3K)
				s.mark("end")
			},
			diffs: []diff{
				{fact: "framing", php: "chunked", lifeline: "length", verdict: better,
					reason: "the body is complete when the run ends: Lifeline sends the compressed length; PHP sends none"},
			},
		},
	}
}
