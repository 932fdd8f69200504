package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

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
// The run writes the message, calls [lifeline.Run.Finish], which sends the
// whole answer with an exact Content-Length and ends the exchange (the
// connection stays reusable, no Connection: close), then works for D. The
// route sits behind package compress: a client that accepts gzip (or br,
// zstd) gets the answer compressed, with the compressed length, once it is
// long enough to be worth it (pad=2048 adds filler). The job is stored in
// lifeline.db when the answer goes out (state "working") and again when the
// work ends ("done", or "interrupted" by the time limit or the drain
// deadline); GET /demo/jobs lists them.
func (a *app) finish(w http.ResponseWriter, r *http.Request, rn *lifeline.Run) {
	q, err := query(r)
	if err != nil {
		badRequest(w, err)
		return
	}
	p, err := parseFinish(q)
	if err != nil {
		badRequest(w, err)
		return
	}
	j := a.startJob(w, r, rn, "finish", p.Work)
	if j == nil {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, finishMessage)
	fmt.Fprintf(w, "(job %d: %v of work; see /demo/jobs)\n", j.ID, p.Work)
	writePad(w, p.Pad)
	if err := rn.Finish(); err != nil { // fastcgi_finish_request()
		a.log.Warn("finish: Finish", "run", rn.ID(), "err", err)
	}
	j.work(rn, p.Work) // the background work
}

// bgJob is the job of a demo that answers early and keeps working.
type bgJob struct {
	*job
	worked bool  // the work ran to its end
	err    error // why the work stopped early
}

// startJob stores a new job of kind for rn (state "working") and registers
// the shutdown function that stores how it ended. When the store fails it
// answers 500 and returns nil.
func (a *app) startJob(w http.ResponseWriter, r *http.Request, rn *lifeline.Run, kind string, work time.Duration) *bgJob {
	j := &bgJob{job: &job{Kind: kind, Run: rn.ID(), Work: work.String(), State: jobWorking, Started: time.Now()}}
	rn.RegisterShutdown(func(_ context.Context, rn *lifeline.Run) { a.endJob(rn, j.job, j.worked, j.err) })
	if err := a.jobs.save(j.job); err != nil {
		serverError(a.log, w, r, err)
		return nil
	}
	return j
}

// work records that the answer went out, then works for d with the run's
// context.
func (j *bgJob) work(rn *lifeline.Run, d time.Duration) {
	j.AnsweredAfter = time.Since(j.Started).String()
	j.err = pause(rn.Context(), d)
	j.worked = true
}

// endJob stores j's final state; it is the shutdown function of the runs
// with background work.
func (a *app) endJob(rn *lifeline.Run, j *job, worked bool, workErr error) {
	j.Ended, j.Status = time.Now(), rn.Status().String()
	switch {
	case worked && workErr == nil:
		j.State = jobDone
	case workErr != nil:
		j.State, j.Reason = jobInterrupted, reason(workErr)
	default:
		j.State, j.Reason = jobInterrupted, "the run ended before the work: "+rn.Status().String()
	}
	if err := a.jobs.save(j); err != nil {
		a.log.Error("job: save", "job", j.ID, "err", err)
	}
	rn.Annotate("job", strconv.FormatUint(j.ID, 10)+" "+j.State)
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
