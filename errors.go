package lifeline

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors. The run context is cancelled with one of the first group
// as its cause: test it with errors.Is(context.Cause(ctx), ErrX). ctx.Err()
// stays context.Canceled, as with any context.WithCancelCause.
var (
	// ErrClientAborted is the cause when the client went away (PHP's
	// CONNECTION_ABORTED). ErrPeerReset and ErrSilentPeer match it too.
	ErrClientAborted = errors.New("lifeline: client aborted")
	// ErrPeerReset is the cause when the client reset the connection (RST).
	ErrPeerReset = fmt.Errorf("lifeline: connection reset by peer: %w", ErrClientAborted)
	// ErrSilentPeer is the cause when the client vanished without closing:
	// it acknowledged nothing (data, window probes, keep-alive probes) for the
	// dead-peer timeout (see package server).
	ErrSilentPeer = fmt.Errorf("lifeline: peer went silent: %w", ErrClientAborted)
	// ErrStalled is the cause when the client is alive (its TCP stack or
	// HTTP/2 connection answers) but took nothing of the response for the
	// stall timeout ([WithStallTimeout], nginx's send_timeout).
	ErrStalled = fmt.Errorf("lifeline: client stopped reading: %w", ErrClientAborted)
	// ErrTimeLimit is the cause when the run's time limit expired (PHP's
	// CONNECTION_TIMEOUT, max_execution_time).
	ErrTimeLimit = errors.New("lifeline: time limit exceeded")
	// ErrServerShutdown is the cause when [Pool.Shutdown] gave up waiting.
	ErrServerShutdown = errors.New("lifeline: server shutting down")

	// ErrTerminated is the panic value that stops a run at its next output
	// or [Run.Check] once it must stop. It is [net/http.ErrAbortHandler]
	// itself, the one value that the recover middleware of chi, echo, gin
	// and net/http pass on or leave alone, so a recoverer inside the run
	// neither logs a termination as a crash nor turns it into a 500: the
	// run knows it was terminated, whatever the recoverer does, and a
	// response that was not complete is cut or answered with the timeout
	// response. Code that recovers panics should re-panic it;
	// errors.Is(v, ErrTerminated) tells it.
	ErrTerminated = http.ErrAbortHandler

	// ErrFinished is returned by [Run.Finish] when the response was already
	// finished.
	ErrFinished = errors.New("lifeline: response already finished")
	// ErrRunEnded is returned by Run methods called after the run ended.
	ErrRunEnded = errors.New("lifeline: run has ended")
	// ErrNilHandler is the panic of the function [Pool.Middleware] returns
	// when it is given a nil handler, at set-up.
	ErrNilHandler = errors.New("lifeline: nil handler")
	// ErrPoolClosed is what requests get once [Pool.Shutdown] has begun.
	ErrPoolClosed = errors.New("lifeline: pool shutting down")
	// ErrQueueTimeout is reported when a request waited longer than the
	// queue timeout for a free slot (see [WithMaxActive]).
	ErrQueueTimeout = errors.New("lifeline: queue timeout")
	// ErrInvalidOption wraps every option validation error.
	ErrInvalidOption = errors.New("lifeline: invalid option")
)
