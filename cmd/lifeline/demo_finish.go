package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/lifeline-go/lifeline"
)

// finishMessage is the answer of the seed's recipe.
const finishMessage = "We'll email you as soon as this is done.\n"

// finishParams are the parameters of GET /demo/finish.
type finishParams struct {
	Work time.Duration // work done after the answer (default 5s)
	Pad  int           // bytes of filler after the message, 0 to maxPad (default 0)
}

func parseFinish(q url.Values) (finishParams, error) {
	p := newParams(q)
	fp := finishParams{
		Work: p.duration("work", 5*time.Second),
		Pad:  p.integer("pad", 0, 0, maxPad),
	}
	return fp, p.done()
}

// finish is GET /demo/finish?work=D, the scenario of the Stack Overflow
// answer "How do I close a connection early?" (seeds/close-connection-early-answer.txt):
//
//	"You can use Fast-CGI with PHP-FPM to use the fastcgi_end_request()
//	function. In this way, you can continue to do some processing while the
//	response has already been sent to the client."
//
// with its message, "We'll email you as soon as this is done.", and its
// warning: "if your web server is using automatic gzip compression on the
// output (ie. Apache with mod_deflate), this won't work because actual size
// of the output is changed, and the Content-Length is no longer accurate."
//
// The run enqueues the work of D as a durable River job, writes the message
// naming the job, and calls [lifeline.Run.Finish], which sends the whole
// answer with an exact Content-Length and ends the exchange (the connection
// stays reusable, no Connection: close). The job runs at once in this
// process; if the process dies, at the next start or on another instance.
// The route sits behind package compress: a client that accepts gzip (or
// br, zstd) gets the answer compressed, with the compressed length, once it
// is long enough to be worth it (pad=2048 adds filler). GET /demo/jobs
// lists the jobs.
func (a *app) finish(w http.ResponseWriter, r *http.Request, rn *lifeline.Run) {
	p, ok := parseQuery(w, r, parseFinish)
	if !ok {
		return
	}
	id, ok := a.enqueue(w, r, rn, finishArgs{workArgs{Work: p.Work, Run: rn.ID()}})
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, finishMessage)
	fmt.Fprintf(w, "(job %d: %v of work; see /demo/jobs)\n", id, p.Work)
	writePad(w, p.Pad)
	if err := rn.Finish(); err != nil { // fastcgi_finish_request()
		a.log.Warn("finish: Finish", "run", rn.ID(), "err", err)
	}
}

// enqueue inserts the durable job of a demo that answers early, and notes
// its id on the run's record. When the insert fails it answers 500 and
// returns false.
func (a *app) enqueue(w http.ResponseWriter, r *http.Request, rn *lifeline.Run, args river.JobArgs) (int64, bool) {
	res, err := a.queue.client.Insert(rn.Context(), args, nil)
	if err != nil {
		serverError(a.log, w, r, fmt.Errorf("%s job: %w", args.Kind(), err))
		return 0, false
	}
	rn.Annotate("job", args.Kind()+" "+strconv.FormatInt(res.Job.ID, 10))
	return res.Job.ID, true
}

// padLine is the filler /demo/finish repeats: compressible text.
const padLine = "Filler so that the answer is long enough to be worth compressing.\n"

// writePad writes n bytes of filler.
func writePad(w io.Writer, n int) {
	for n > 0 {
		k := min(n, len(padLine))
		io.WriteString(w, padLine[:k])
		n -= k
	}
}
