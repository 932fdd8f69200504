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

// earlyClose is the seed's recipe (close-connection-early-answer.txt)
// followed by background work; every early-close scenario runs it.
func earlyClose(s *script) {
	s.onShutdown(func(s *script) { s.status("shutdown") })
	if err := s.out.Start(nil, 0, output.StdFlags); err != nil {
		s.ev("notice", "ob_start: "+err.Error())
	}
	s.echo("We'll email you as soon as this is done.")
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

var text3K = strings.Repeat("Lifeline conformance line.\n", 120)

func earlyScenarios() []*scenario {
	return []*scenario{
		{
			name:  "shutdown-order",
			about: "Shutdown functions a and b; a registers c. All echo, through an ob_start handler left open.",
			goCode: func(s *script) {
				err := s.out.Start(output.HandlerFunc(func(buf []byte, ph output.Phase) ([]byte, error) {
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
		},
		{
			name:   "early-close-buffered",
			about:  "As early-close, behind nginx with its default fastcgi_buffering on.",
			script: "early-close",
			phpLoc: "/buffered/",
			goCode: earlyClose,
		},
		{
			name:   "early-close-gzip",
			about:  "As early-close, Accept-Encoding: gzip, nginx gzip on (the seed's mod_deflate case); Lifeline's compression handler.",
			script: "early-close",
			phpLoc: "/gz/",
			plan:   planRead(acceptGzip),
			goWrap: withCompression,
			goCode: earlyClose,
		},
		{
			name:   "early-close-zlib",
			about:  "As early-close, Accept-Encoding: gzip, PHP's zlib.output_compression on; Lifeline's compression handler.",
			script: "early-close",
			phpLoc: "/zlib/",
			plan:   planRead(acceptGzip),
			goWrap: withCompression,
			goCode: earlyClose,
		},
		{
			name:   "finish",
			about:  "echo, fastcgi_finish_request() twice (Finish), a small echo, flush(), then 0.3 s of work in a shutdown function.",
			goCode: finish,
		},
		{
			name:  "finish-ignore",
			about: "As finish, with ignore_user_abort(true).",
			goCode: func(s *script) {
				s.rn.IgnoreUserAbort(true)
				finish(s)
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
		},
	}
}
