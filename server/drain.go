package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lifeline-go/lifeline"
)

// answerGrace is how long connections may stay open after the drain deadline,
// so that the connection side of each cancelled run can still answer its
// client (or end its stream cleanly) before the connection is closed. It
// exceeds Lifeline's default grace period (2s), after which the connection
// side answers for a run that does not stop.
const answerGrace = 3 * time.Second

// drain shuts the server and the pool down (see [Server.Serve]). It returns
// within the drain timeout plus answerGrace.
func (s *Server) drain() error {
	start := time.Now()
	deadline := start.Add(s.opts.drainTimeout)
	s.log.Info("server: draining", "timeout", s.opts.drainTimeout, "runs", len(s.pool.Active()))

	// Both drains run at once. Shutdown stops accepting at once, closes idle
	// connections and waits for open responses; the pool waits for every
	// run, including runs still working after Finish.
	httpCtx, cancel := context.WithDeadline(context.Background(), deadline.Add(answerGrace))
	defer cancel()
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.srv.Shutdown(httpCtx) }()

	cut, poolErr := s.drainPool(deadline)
	for _, ri := range cut {
		s.log.Warn("server: run cut short by shutdown", runAttrs(ri)...)
	}
	httpErr := <-httpDone
	if httpErr != nil {
		// Responses still open after the grace: close their connections.
		_ = s.srv.Close()
	}
	if len(cut) == 0 && poolErr == nil && httpErr == nil {
		s.log.Info("server: drained", "elapsed", time.Since(start))
		return nil
	}
	err := fmt.Errorf("%w after %v: %d run(s) cancelled", ErrDrainIncomplete, s.opts.drainTimeout, len(cut))
	if httpErr != nil {
		err = fmt.Errorf("%w, connections still open were closed", err)
	}
	s.log.Warn("server: drain incomplete", "elapsed", time.Since(start), "cancelled", len(cut), "connections_closed", httpErr != nil)
	return errors.Join(err, poolErr)
}

// drainPool shuts the pool down, waiting for its runs until deadline. Runs
// still active then are returned (listed before they are cancelled, so none
// escapes the log by ending in between) and cancelled with
// [lifeline.ErrServerShutdown].
func (s *Server) drainPool(deadline time.Time) (cut []lifeline.RunInfo, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.pool.Shutdown(ctx) }()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case err := <-done:
		return nil, err
	case <-timer.C:
	}
	select {
	case err := <-done:
		return nil, err
	default:
	}
	cut = s.pool.Active()
	cancel()
	err = <-done
	if len(cut) == 0 && errors.Is(err, context.Canceled) {
		// Everything ended between the deadline and the snapshot.
		err = nil
	}
	return cut, err
}
