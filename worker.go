package lifeline

import "time"

// Run goroutines are reused. A run writes to the ResponseWriter from its own
// goroutine (see exchange), so net/http's write path runs there: on a fresh
// goroutine that path grows the stack from its first 2 KiB, copying it on
// every request. A goroutine that has served a run waits a while for the
// next one instead of exiting, with the stack it already has; nothing of a
// run is kept on it (the run, its request and its context are arguments).
//
// The goroutines are the pool's: they wait on p.work and exit after
// workerIdle without a run, or when [Pool.Shutdown] closes p.quit. Each run
// is still alone on its goroutine while it lasts.

// workerIdle is how long a run goroutine waits for the next run before it
// exits.
const workerIdle = 10 * time.Second

// startRun runs rn on an idle run goroutine, or on a new one.
func (p *Pool) startRun(rn *Run) {
	select {
	case p.work <- rn:
	default:
		go p.runLoop(rn)
	}
}

// runLoop executes rn, then the runs handed to it, until it has been idle
// for a whole workerIdle period or the pool shut down. The idle timer is
// re-armed once a period, not once a run.
func (p *Pool) runLoop(rn *Run) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	busy := false
	for {
		if rn != nil {
			runSide{rn, rn.ex}.execute()
			rn, busy = nil, true
		}
		select {
		case rn = <-p.work:
		case <-idle.C:
			if !busy {
				return
			}
			busy = false
			idle.Reset(workerIdle)
		case <-p.quit:
			return
		}
	}
}
