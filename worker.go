package lifeline

import (
	"sync"
	"time"
)

// Run goroutines are reused. A run writes to the ResponseWriter from its own
// goroutine (see exchange), so net/http's write path runs there: on a fresh
// goroutine that path grows the stack from its first 2 KiB, copying it on
// every request. A goroutine that has served a run waits a while for the
// next one instead of exiting, with the stack it already has; nothing of a
// run is kept on it (the run, its request and its context are arguments).
//
// The idle goroutines are a stack (the most recently used, whose stack is
// warm, serves the next run); each waits on a channel of its own, a plain
// receive that costs far less than a select over several channels. Once a
// workerIdle period the reaper lets go of those that stayed idle a whole
// period (the bottom of the stack); [Pool.Shutdown] lets go of all of them,
// and a goroutine that ends a run after Shutdown began exits. Each run is
// still alone on its goroutine while it lasts.

// workerIdle is how long a run goroutine waits for the next run before it
// exits, give or take one period.
const workerIdle = 10 * time.Second

// worker is an idle run goroutine's mailbox.
type worker struct {
	next  chan *Run // the next run; nil means exit
	epoch uint64    // workers.epoch when it went idle
}

// workers are a pool's idle run goroutines.
type workers struct {
	mu     sync.Mutex // guards the fields below
	idle   []*worker  // idle goroutines, most recently idle last
	epoch  uint64     // reaper periods so far
	reaper *time.Timer
	closed bool // Shutdown began: idle goroutines exit
}

// startRun runs rn on an idle run goroutine, or on a new one.
func (p *Pool) startRun(rn *Run) {
	ws := &p.workers
	ws.mu.Lock()
	if n := len(ws.idle); n > 0 {
		w := ws.idle[n-1]
		ws.idle[n-1] = nil
		ws.idle = ws.idle[:n-1]
		ws.mu.Unlock()
		w.next <- rn // buffered: never blocks
		return
	}
	ws.mu.Unlock()
	go p.runLoop(rn)
}

// runLoop executes rn, then the runs handed to it, until the reaper or
// Shutdown lets it go.
func (p *Pool) runLoop(rn *Run) {
	var w *worker
	for rn != nil {
		runSide{rn, rn.ex}.execute()
		if w == nil {
			w = &worker{next: make(chan *Run, 1)}
		}
		if !p.workers.park(w) {
			return
		}
		rn = <-w.next
	}
}

// park puts w on the idle stack. It reports false when the pool is shutting
// down: the goroutine exits.
func (ws *workers) park(w *worker) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.closed {
		return false
	}
	w.epoch = ws.epoch
	ws.idle = append(ws.idle, w)
	if ws.reaper == nil {
		ws.reaper = time.AfterFunc(workerIdle, ws.reap)
	}
	return true
}

// reap lets go of the goroutines that stayed idle for a whole period, and
// looks again one period later while any are idle.
func (ws *workers) reap() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.epoch++
	// Those that went idle before the previous period began are at the
	// bottom of the stack: the stack only grows at its top.
	n := 0
	for n < len(ws.idle) && ws.idle[n].epoch+1 < ws.epoch {
		ws.idle[n].next <- nil
		n++
	}
	m := copy(ws.idle, ws.idle[n:])
	clear(ws.idle[m:])
	ws.idle = ws.idle[:m]
	if len(ws.idle) == 0 || ws.closed {
		ws.reaper = nil
		return
	}
	ws.reaper.Reset(workerIdle)
}

// close lets go of every idle goroutine; the busy ones exit after their run.
func (ws *workers) close() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.closed = true
	for i, w := range ws.idle {
		w.next <- nil
		ws.idle[i] = nil
	}
	ws.idle = nil
	if ws.reaper != nil {
		ws.reaper.Stop()
		ws.reaper = nil
	}
}
