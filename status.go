package lifeline

import "strconv"

// Status is a run's connection status, PHP's connection_status() bit field.
// Flags only ever turn on: a run that was aborted and then timed out (or the
// other way round) reads Aborted|Timeout = 3.
type Status uint32

// The status flags, with PHP's values.
const (
	Normal  Status = 0 // CONNECTION_NORMAL
	Aborted Status = 1 // CONNECTION_ABORTED: the client left
	Timeout Status = 2 // CONNECTION_TIMEOUT: the time limit expired
)

// String returns "normal", "aborted", "timeout" or "aborted|timeout".
func (s Status) String() string {
	switch s {
	case Normal:
		return "normal"
	case Aborted:
		return "aborted"
	case Timeout:
		return "timeout"
	case Aborted | Timeout:
		return "aborted|timeout"
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// Phase is where a run is in its life.
type Phase uint32

// The phases, in order. A run may skip PhaseFinished.
const (
	PhaseRunning  Phase = iota // the handler runs and its response is open
	PhaseFinished              // Finish was called: response complete, handler still working
	PhaseShutdown              // shutdown functions are running
	PhaseDone                  // the run has ended
)

// String returns the phase's name: "running", "finished", "shutdown", "done".
func (p Phase) String() string {
	switch p {
	case PhaseRunning:
		return "running"
	case PhaseFinished:
		return "finished"
	case PhaseShutdown:
		return "shutdown"
	case PhaseDone:
		return "done"
	}
	return "phase(" + strconv.Itoa(int(p)) + ")"
}

// Cause says why a run's status left Normal, for records and the status page.
type Cause uint8

// The causes. The first one recorded wins.
const (
	CauseNone       Cause = iota
	CauseClosed           // the client closed the connection or the stream (FIN, HTTP/2 reset)
	CauseReset            // the client reset the connection (RST)
	CauseSilentPeer       // the client acknowledged nothing for the dead-peer timeout: it vanished
	CauseTimeLimit        // the time limit expired
	CauseShutdown         // the pool shut down before the run ended
	CauseStalled          // the client is alive but took nothing for the stall timeout

	causeCount // number of causes, for counters
)

// String names the cause: "", "closed", "reset", "silent-peer", "time-limit",
// "shutdown", "stalled".
func (c Cause) String() string {
	switch c {
	case CauseNone:
		return ""
	case CauseClosed:
		return "closed"
	case CauseReset:
		return "reset"
	case CauseSilentPeer:
		return "silent-peer"
	case CauseTimeLimit:
		return "time-limit"
	case CauseShutdown:
		return "shutdown"
	case CauseStalled:
		return "stalled"
	}
	return "cause(" + strconv.Itoa(int(c)) + ")"
}

// err returns the context cause matching c.
func (c Cause) err() error {
	switch c {
	case CauseReset:
		return ErrPeerReset
	case CauseSilentPeer:
		return ErrSilentPeer
	case CauseTimeLimit:
		return ErrTimeLimit
	case CauseShutdown:
		return ErrServerShutdown
	case CauseStalled:
		return ErrStalled
	}
	return ErrClientAborted
}
