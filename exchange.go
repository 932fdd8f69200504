package lifeline

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifeline-go/lifeline/output"
)

// exchange is what a run's two sides share: the connection side (net/http's
// ServeHTTP goroutine, see serve.go) and the run side (the handler's
// goroutine, owner of the output stack).
//
// # Ownership of the ResponseWriter
//
// The connection side lends w to the run side for the life of the response.
// The run side writes to it directly, holding mu for each call (header, body,
// flush, 1xx, deadlines), while the connection side is parked in its loop
// and does not touch w. When the connection side must act (the run ended,
// Finish, a runaway, a stall), it takes w back: it sets revoked, wakes a
// write that is stuck on a client that does not read by setting a write
// deadline in the past, then takes mu, which the woken write releases at
// once. After that the run side never touches w again (w is nil) and its
// output is discarded. No client behaviour can keep the connection side from
// acting: a write is the only thing it waits for, and it can always wake it.
//
// Hand-offs that need the connection side itself (Hijack, the release at
// Finish, the end of the run) and the timers' alarms are bits in ev, with
// the message in msg; see signal.
//
// Exchanges are pooled per Pool with their stack, timers and channels; a Run
// handle (and the ResponseWriter it gives the handler) is not, so a stale
// *Run never reaches another request.
type exchange struct {
	ev    atomic.Uint32 // what the connection side must look at (ev* bits), and whether it left (evGone)
	wake  chan struct{} // the connection side parks here while ev is empty (size 1)
	ack   chan error    // connection side → run side: msg handled (Hijack)
	gone  chan struct{} // closed when the connection side returned early
	timer *time.Timer   // the time limit and grace period (see timer.go)
	stall *stallTimer   // the stall bound, armed lazily (see timer.go)
	cur   atomic.Pointer[Run]
	msg   message
	conn  connSide // the connection side's state (see route.serve)
	stack *output.Stack
	sink  runSink

	mu          sync.Mutex          // held by whoever uses w
	w           http.ResponseWriter // guarded by mu; nil once the connection side took it back
	wroteHeader bool                // guarded by mu: the final header went out

	revoked    atomic.Bool  // the connection side is taking w back: start no new call on it
	overtime   atomic.Bool  // past the time limit, calls on w have a write deadline (see connSide.alarm)
	writing    atomic.Bool  // the run side is inside a call on w
	writeStart atomic.Int64 // when the current call on w began (UnixNano), if stallArmed

	// users counts the sides still using the exchange: both at first; the
	// one that leaves last puts it back in the pool (see drop).
	users atomic.Int32

	stallArmed bool // run side: the stall timer runs for this run
	released   bool // run side: the connection side has returned (Finish or done)
}

type msgKind uint8

const (
	msgRelease msgKind = iota + 1 // Finish: the response is complete, return
	msgDone                       // the run ended: answer per outcome, return
	msgHijack                     // take over the connection
)

// The bits of exchange.ev. The run side posts one message bit (msgRelease
// and msgDone once each, msgHijack and then waits for the answer); the
// timers set evAlarm; the connection side sets evGone when it returns early
// (a runaway) and then takes no message: the run side that finds evGone
// goes on alone.
const (
	evRelease = 1 << msgRelease
	evDone    = 1 << msgDone
	evHijack  = 1 << msgHijack
	evAlarm   = 1 << 4 // a runaway, or a write that may be stuck
	evGone    = 1 << 5 // the connection side returned early
)

// message is the one request in flight on an exchange.
type message struct {
	kind    msgKind
	outcome outcome
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
		wake:  make(chan struct{}, 1),
		ack:   make(chan error),
		gone:  make(chan struct{}),
		stack: output.NewStack(nil),
	}
	ex.timer = ex.newLimitTimer()
	ex.sink.ex = ex
	return ex
}

// drop says that one side no longer uses the exchange; the last one puts it
// back in p's pool. A run side that finished early (Finish, Hijack) may end
// the run before the connection side has even parked in its loop: the
// exchange, which holds the connection side's state, must not be reused
// until that side has left it too.
func (ex *exchange) drop(p *Pool) {
	if ex.users.Add(-1) == 0 {
		p.exs.Put(ex)
	}
}

// reset prepares a pooled exchange for rn, whose response goes to w.
func (ex *exchange) reset(rn *Run, w http.ResponseWriter) {
	ex.ev.Store(0)
	ex.users.Store(2)
	if len(ex.wake) > 0 { // a wake-up left over from the last run; no call otherwise
		<-ex.wake
	}
	ex.released, ex.stallArmed = false, false
	ex.msg = message{}
	ex.w, ex.wroteHeader = w, false
	ex.revoked.Store(false)
	ex.overtime.Store(false)
	ex.writing.Store(false)
	ex.writeStart.Store(0)
	ex.sink.rn = rn
	ex.sink.pendingCode, ex.sink.pendingHeader, ex.sink.final, ex.sink.lost = 0, nil, false, false
	ex.stack.Reset(&ex.sink)
	ex.stack.SetServerLength(shortBody)
	ex.cur.Store(rn)
}

// acquire takes w for one call from the run side. It reports false when the
// run side may no longer write: the connection side took w back. The
// writing/revoked pair is a Dekker handshake with revoke: either this call
// sees revoked, or revoke sees writing and wakes the call.
func (ex *exchange) acquire() (http.ResponseWriter, bool) {
	ex.mu.Lock()
	ex.writing.Store(true)
	if ex.revoked.Load() || ex.w == nil {
		ex.writing.Store(false)
		ex.mu.Unlock()
		return nil, false
	}
	if ex.sink.rn.status.Load()&uint32(Timeout) != 0 && !ex.overtime.Load() {
		ex.kickConn() // a write past the time limit must be bounded
	}
	if !ex.stallArmed && ex.sink.rn.stallNeeded.Load() {
		ex.armStall(ex.sink.rn)
	}
	if ex.stallArmed {
		ex.writeStart.Store(time.Now().UnixNano())
	}
	return ex.w, true
}

// unlock ends a call that acquire began.
func (ex *exchange) unlock() {
	if ex.stallArmed {
		ex.writeStart.Store(0)
	}
	ex.writing.Store(false)
	ex.mu.Unlock()
}

// revoke takes w back for the connection side, which owns w; a call of the
// run side in flight is woken by a write deadline in the past. It reports
// whether that deadline was set (the connection's writes then fail too).
// Afterwards the run side's output is discarded.
//
// cut, if not nil, shuts the connection down when a call is in flight: the
// response is lost anyway, and a deadline alone does not bound what
// net/http does next over TLS (see connWatch.cut).
func (ex *exchange) revoke(w http.ResponseWriter, cut func()) (woke bool) {
	ex.revoked.Store(true)
	if ex.writing.Load() {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Unix(1, 0))
		if cut != nil {
			cut()
		}
		woke = true
	}
	ex.mu.Lock()
	ex.w = nil
	ex.mu.Unlock()
	return woke
}

// take takes w back when the run side is known not to be writing (it waits
// for the connection side, or it ended).
func (ex *exchange) take() {
	ex.mu.Lock()
	ex.w = nil
	ex.mu.Unlock()
}

// signal sets bit in ev and wakes the connection side. It reports false
// when the connection side has returned early (evGone): nobody will look.
// The bit is set before the wake-up, and the connection side looks at ev
// before it parks, so no signal is lost; a wake-up whose bit was already
// seen only makes it look again.
func (ex *exchange) signal(bit uint32) bool {
	if ex.ev.Or(bit)&evGone != 0 {
		return false
	}
	select {
	case ex.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
	return true
}

// leave marks the connection side as gone, unless the run side has already
// handed it the response (release or done), which it must then take
// instead. Connection side.
func (ex *exchange) leave() bool {
	for {
		old := ex.ev.Load()
		if old&(evRelease|evDone) != 0 {
			return false
		}
		if ex.ev.CompareAndSwap(old, old|evGone) {
			close(ex.gone)
			return true
		}
	}
}

// send hands the prepared msg (a hijack) to the connection side and waits
// for its answer. ok is false when the connection side is gone.
func (ex *exchange) send() (err error, ok bool) {
	if ex.released {
		return nil, false
	}
	if ex.signal(1 << ex.msg.kind) {
		select {
		case err := <-ex.ack:
			return err, true
		case <-ex.gone:
		}
	}
	ex.released = true
	return nil, false
}

// post hands the prepared msg to the connection side without waiting for an
// answer: the connection side returns (release, done). It reports false when
// the connection side was already gone. After a successful msgDone the
// exchange is the connection side's: the run side must not touch it again.
func (ex *exchange) post(kind msgKind, out outcome) bool {
	ex.msg = message{kind: kind, outcome: out}
	ex.released = true
	return ex.signal(1 << kind)
}
