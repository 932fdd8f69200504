package lifeline

import (
	"bufio"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/lifeline-go/lifeline/output"
)

// exchange is the hand-off between a run's two sides: the connection side
// (net/http's ServeHTTP goroutine, sole owner of the ResponseWriter) and the
// run side (the handler's goroutine, owner of the output stack). The run side
// fills msg and signals req; the connection side acts on the ResponseWriter
// and answers on ack. Exchanges are pooled per Pool with their stack, timer
// and channels; a Run handle is not, so a stale *Run never reaches another
// request.
type exchange struct {
	req      chan struct{} // run side → connection side: msg is ready
	ack      chan error    // connection side → run side: msg handled
	gone     chan struct{} // closed when the connection side returned early
	runaway  chan struct{} // the grace period expired (size 1)
	timer    *time.Timer   // the time limit and grace period
	cur      atomic.Pointer[Run]
	msg      message
	stack    *output.Stack
	sink     runSink
	writer   runWriter
	closed   bool // gone was closed: recreate before reuse
	released bool // run side: the connection side has returned (Finish or done)
}

type msgKind uint8

const (
	msgWrite   msgKind = iota // body bytes (with the header first if pending)
	msgInfo                   // a 1xx informational header
	msgFlush                  // flush (with the header first if pending)
	msgRelease                // Finish: the response is complete, return
	msgDone                   // the run ended: answer per outcome, return
	msgHijack                 // take over the connection
	msgControl                // a ResponseController call (deadlines, full duplex)
)

// message is the one request in flight on an exchange.
type message struct {
	kind    msgKind
	code    int
	header  http.Header // header to send first, or nil
	body    []byte
	outcome outcome
	control func(*http.ResponseController) error
	conn    net.Conn          // msgHijack result
	brw     *bufio.ReadWriter // msgHijack result
}

// outcome is how a run ended, as the connection side must answer it.
type outcome uint8

const (
	outcomeNormal      outcome = iota // the response was sent by the run
	outcomeTimeout                    // terminated by the time limit before sending: timeout response
	outcomePanic                      // panicked before sending: 500
	outcomeAbortStream                // cut the response short (headers were sent, or ErrAbortHandler)
	outcomeGone                       // the client left: nothing to send
)

func newExchange() *exchange {
	ex := &exchange{
		req:     make(chan struct{}),
		ack:     make(chan error),
		gone:    make(chan struct{}),
		runaway: make(chan struct{}, 1),
		stack:   output.NewStack(nil),
	}
	ex.timer = time.AfterFunc(time.Hour, ex.onTimer)
	ex.timer.Stop()
	ex.sink.ex = ex
	ex.writer.ex = ex
	return ex
}

func (ex *exchange) onTimer() {
	if rn := ex.cur.Load(); rn != nil {
		rn.onTimer()
	}
}

// reset prepares a pooled exchange for rn.
func (ex *exchange) reset(rn *Run) {
	if ex.closed {
		ex.gone = make(chan struct{})
		ex.closed = false
	}
	select {
	case <-ex.runaway:
	default:
	}
	ex.released = false
	ex.msg = message{}
	ex.sink.rn = rn
	ex.sink.pendingCode = 0
	ex.sink.pendingHeader = nil
	ex.sink.deferLast, ex.sink.last = false, nil
	ex.writer.rn = rn
	ex.writer.hijacked = false
	ex.stack.Reset(&ex.sink)
	ex.cur.Store(rn)
}

// send hands the prepared msg to the connection side and waits for its
// answer. ok is false when the connection side is gone.
func (ex *exchange) send() (err error, ok bool) {
	if ex.released {
		return nil, false
	}
	select {
	case ex.req <- struct{}{}:
		return <-ex.ack, true
	case <-ex.gone:
		ex.released = true
		return nil, false
	}
}

// release hands the finished response to the connection side, which returns
// (Finish). The body kept by the sink (see runSink.deferLast) travels with
// it, so an early answer costs one hand-off.
func (ex *exchange) release() {
	last := ex.sink.last
	ex.sink.last, ex.sink.deferLast = nil, false
	if ex.sink.discarding() {
		last = nil
	}
	ex.sink.takeHeader(&ex.msg)
	ex.msg.kind, ex.msg.body = msgRelease, last
	ex.send()
	ex.msg.body = nil
	ex.released = true
}

// handOver gives the ended run to the connection side, which writes what is
// left, answers, and ends the run (Pool.endRun), so the run side need not wait
// for an answer. It reports false when the connection side is gone; the run
// side then ends the run itself.
func (ex *exchange) handOver(out outcome) bool {
	last := ex.sink.last
	ex.sink.last, ex.sink.deferLast = nil, false
	if ex.sink.discarding() {
		last = nil
	}
	ex.sink.takeHeader(&ex.msg)
	ex.msg.kind, ex.msg.outcome, ex.msg.body = msgDone, out, last
	select {
	case ex.req <- struct{}{}:
		return true
	case <-ex.gone:
		ex.released = true
		return false
	}
}
