package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	// Stop accepting before saying so: a client that connects once the log
	// says "draining" must be refused, not served (Shutdown closes the
	// listener again, harmlessly).
	s.mu.Lock()
	ln := s.serving
	s.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	s.log.Info("server: draining", "timeout", s.opts.drainTimeout, "runs", len(s.pool.Active()))

	// First the connections: Shutdown stops accepting at once, closes idle
	// connections and waits for open responses. Then the pool, which refuses
	// new runs once its Shutdown begins, waits for the runs still working
	// (after Finish, or past the deadline). Shutdown keeps waiting after the
	// deadline, for answerGrace, while the connection sides of the runs the
	// pool cancelled answer their clients.
	funcsDone := s.startDrainFuncs(deadline)
	httpCtx, cancel := context.WithDeadline(context.Background(), deadline.Add(answerGrace))
	defer cancel()
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.srv.Shutdown(httpCtx) }()
	var (
		httpErr  error
		httpOver bool
	)
	timer := time.NewTimer(time.Until(deadline))
	select {
	case httpErr = <-httpDone:
		httpOver = true
	case <-timer.C:
	}
	timer.Stop()

	cut, poolErr := s.drainPool(deadline)
	for _, ri := range cut {
		s.log.Warn("server: run cut short by shutdown", runAttrs(ri)...)
	}
	if !httpOver {
		httpErr = <-httpDone
	}
	if httpErr != nil {
		// Responses still open after the grace: close their connections.
		_ = s.srv.Close()
	}
	funcsErr := <-funcsDone
	if len(cut) == 0 && poolErr == nil && httpErr == nil {
		if funcsErr != nil {
			s.log.Warn("server: drain function failed", "err", funcsErr)
			return funcsErr
		}
		s.log.Info("server: drained", "elapsed", time.Since(start))
		return nil
	}
	err := fmt.Errorf("%w after %v: %d run(s) cancelled", ErrDrainIncomplete, s.opts.drainTimeout, len(cut))
	if httpErr != nil {
		err = fmt.Errorf("%w, connections still open were closed", err)
	}
	s.log.Warn("server: drain incomplete", "elapsed", time.Since(start), "cancelled", len(cut), "connections_closed", httpErr != nil)
	return errors.Join(err, poolErr, funcsErr)
}

// startDrainFuncs calls the WithDrainFunc functions, each on a goroutine of
// its own with a context that ends at deadline, and returns a channel that
// gets their joined errors once every one has returned.
func (s *Server) startDrainFuncs(deadline time.Time) <-chan error {
	done := make(chan error, 1)
	fs := s.opts.drainFuncs
	if len(fs) == 0 {
		done <- nil
		return done
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	errs := make([]error, len(fs))
	var wg sync.WaitGroup
	for i, f := range fs {
		wg.Go(func() { errs[i] = f(ctx) })
	}
	go func() {
		wg.Wait()
		cancel()
		done <- errors.Join(errs...)
	}()
	return done
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
	if errors.Is(err, context.Canceled) {
		// Our own cancel: cut says who was cancelled, and the error what
		// else Shutdown gave up on (early answers whose delivery was
		// still undecided, reported unknown).
		s.log.Warn("server: pool shutdown cut at the drain deadline", "err", err)
		err = nil
	}
	return cut, err
}

// runAttrs names a run for the log: what the status page shows of it.
func runAttrs(ri lifeline.RunInfo) []any {
	attrs := []any{
		"id", ri.ID, "method", ri.Method, "uri", ri.URI, "phase", ri.Phase.String(),
		"status", ri.Status.String(), "elapsed", ri.Elapsed,
	}
	if ri.Route != "" {
		attrs = append(attrs, "route", ri.Route)
	}
	if ri.Runaway {
		attrs = append(attrs, "runaway", true)
	}
	if len(ri.Notes) > 0 {
		attrs = append(attrs, "notes", ri.Notes)
	}
	return attrs
}
