package main

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/lifeline-go/lifeline"
	"github.com/lifeline-go/lifeline/output"
)

// closeEarlyParams are the parameters of GET /demo/close-early.
type closeEarlyParams struct {
	Work time.Duration // work done after the answer (default 5s)
}

func parseCloseEarly(q url.Values) (closeEarlyParams, error) {
	p := newParams(q)
	cp := closeEarlyParams{Work: p.duration("work", 5*time.Second)}
	return cp, p.done()
}

// closeEarly is GET /demo/close-early?work=D, the manual recipe of the Stack
// Overflow answer "How do I close a connection early?"
// (seeds/close-connection-early-answer.txt), kept for comparison with
// /demo/finish:
//
//	"It's necessary to send these 2 headers:
//	Connection: close
//	Content-Length: n (n = size of output in bytes )
//	Since you need know the size of your output, you'll need to buffer your
//	output, then flush it to the browser:
//	ob_start();
//	echo 'We\'ll email you as soon as this is done.';
//	$size = ob_get_length();
//	header('Content-Length: '.$size);
//	header('Connection: close');
//	ob_end_flush();
//	ob_flush();
//	flush();"
//
// with the user note's "ignore_user_abort(true); // just to be safe". Each
// PHP call has its Lifeline twin on the run's output stack. An HTTP/1.1
// client has the whole answer as soon as it is flushed, because it knows
// its length, and Connection: close costs the connection. Over HTTP/2 the
// stream only ends with the run: a client that stops at Content-Length
// (curl) is answered early, one that waits for the end of the stream (Go's)
// only when the work is done; and Connection: close, which HTTP/2 forbids,
// becomes a graceful close of the whole connection.
// No compression sits on this route: as the answer warns, it would make the
// length wrong. The work after the answer is a durable River job, as for
// /demo/finish, with kind "close-early".
func (a *app) closeEarly(w http.ResponseWriter, r *http.Request, rn *lifeline.Run) {
	p, ok := parseQuery(w, r, parseCloseEarly)
	if !ok {
		return
	}
	if _, ok := a.enqueue(w, r, rn, closeEarlyArgs{workArgs{Work: p.Work, Run: rn.ID()}}); !ok {
		return
	}

	rn.IgnoreUserAbort(true) // ignore_user_abort(true): the client closes once it has its answer
	ob := rn.Output()
	if err := ob.Start(nil, 0, output.StdFlags); err != nil { // ob_start()
		serverError(a.log, w, r, err)
		return
	}
	io.WriteString(w, finishMessage) // echo 'We\'ll email you as soon as this is done.';
	size, _ := ob.Length()           // $size = ob_get_length();
	h := w.Header()
	h.Set("Content-Length", strconv.Itoa(size)) // header('Content-Length: '.$size);
	h.Set("Connection", "close")                // header('Connection: close');
	h.Set("Content-Type", "text/plain; charset=utf-8")
	_ = ob.EndFlush() // ob_end_flush();
	// ob_flush(): the base buffer (PHP's output_buffering). Without one,
	// PHP warns that there is no buffer to flush, and so do we, quietly.
	if err := ob.Flush(); err != nil && !errors.Is(err, output.ErrNoBuffer) {
		a.log.Warn("close-early: ob_flush", "run", rn.ID(), "err", err)
	}
	_ = ob.FlushClient() // flush();
}
