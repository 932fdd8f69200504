package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/lifeline-go/lifeline"
)

// streamParams are the parameters of GET /demo/stream.
type streamParams struct {
	Lines int           // lines to send, 1 to maxLines (default 10)
	Every time.Duration // pause before each line after the first (default 1s)
}

func parseStream(q url.Values) (streamParams, error) {
	p := newParams(q)
	sp := streamParams{
		Lines: p.integer("lines", 10, 1, maxLines),
		Every: p.duration("every", time.Second),
	}
	return sp, p.done()
}

// stream is GET /demo/stream?lines=N&every=D, the scenario of the PHP
// manual's chapter on connection handling (seeds/php-manual-connection-handling.txt):
//
//	"If you do not tell PHP to ignore a user abort and the user aborts, your
//	script will terminate. The one exception is if you have registered a
//	shutdown function using register_shutdown_function(). With a shutdown
//	function, when the remote user hits his STOP button, the next time your
//	script tries to output something PHP will detect that the connection has
//	been aborted and the shutdown function is called. This shutdown function
//	will also get called at the end of your script terminating normally, so
//	to do something different in case of a client disconnect you can use the
//	connection_aborted() function."
//
// It sends a line every D, flushing each, with the default abort policy: a
// client that leaves (the browser's Stop button) ends the run at its next
// line. The shutdown function records the final connection status and the
// lines sent in the run's record (notes "final-status" and "lines-sent"),
// which GET /demo/runs?route=stream shows.
func (a *app) stream(w http.ResponseWriter, r *http.Request, rn *lifeline.Run) {
	p, ok := parseQuery(w, r, parseStream)
	if !ok {
		return
	}
	sent := 0
	rn.RegisterShutdown(func(_ context.Context, rn *lifeline.Run) {
		rn.Annotate("final-status", rn.Status().String())
		rn.Annotate("lines-sent", strconv.Itoa(sent)+"/"+strconv.Itoa(p.Lines))
	})
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff") // browsers show each line as it comes
	h.Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	for i := 1; i <= p.Lines; i++ {
		if i > 1 {
			// Returns early when the client leaves; the Write below then
			// terminates the run, as PHP's next echo would.
			_ = pause(rn.Context(), p.Every)
		}
		fmt.Fprintf(w, "line %d of %d at %s\n", i, p.Lines, time.Now().Format("15:04:05.000"))
		_ = rc.Flush()
		sent = i
	}
}
