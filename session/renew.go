package session

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"time"
)

// renewer refreshes one held lock every third of the lock TTL, for at most
// the max lock hold. It runs on a timer (no goroutine while idle); stop
// waits for a refresh in flight, so none happens after it returns.
type renewer struct {
	store   Store
	ctx     context.Context // values only
	id      string
	tok     LockToken
	ttl     time.Duration
	every   time.Duration
	timeout time.Duration
	until   time.Time
	log     *slog.Logger

	mu      sync.Mutex // guards stopped and timer; held during a refresh
	stopped bool
	timer   *time.Timer
}

// startRenewer starts refreshing the lock tok of id.
func (m *Manager) startRenewer(ctx context.Context, id string, tok LockToken) *renewer {
	rw := &renewer{
		store:   m.store,
		ctx:     ctx,
		id:      id,
		tok:     tok,
		ttl:     m.opts.lockTTL,
		every:   m.opts.lockTTL / 3,
		timeout: min(m.opts.storeTimeout, m.opts.lockTTL/3),
		until:   time.Now().Add(m.opts.maxLockHold),
		log:     m.log,
	}
	rw.mu.Lock()
	rw.timer = time.AfterFunc(rw.every, rw.fire)
	rw.mu.Unlock()
	return rw
}

func (rw *renewer) fire() {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.stopped {
		return
	}
	if time.Now().After(rw.until) {
		rw.stopped = true
		rw.log.Warn("session: lock held longer than the max lock hold; no longer refreshed, it expires within its TTL",
			"session", fingerprint(rw.id), "ttl", rw.ttl)
		return
	}
	ctx, cancel := context.WithTimeout(rw.ctx, rw.timeout)
	err := rw.store.Refresh(ctx, rw.id, rw.tok, rw.ttl)
	cancel()
	switch {
	case errors.Is(err, ErrLockLost):
		rw.stopped = true
		rw.log.Error("session: lock lost while held; the session's write will be refused",
			"session", fingerprint(rw.id), "err", err)
		return
	case err != nil:
		rw.log.Warn("session: refreshing the lock", "session", fingerprint(rw.id), "err", err)
	}
	rw.timer.Reset(rw.every)
}

// stop ends the refreshes; none runs after it returns.
func (rw *renewer) stop() {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.stopped = true
	rw.timer.Stop()
}

// abandon is the cleanup of a Session that was garbage collected while it
// held its lock: nobody can close it any more, so stop refreshing and let
// the lock expire.
func (rw *renewer) abandon() {
	rw.mu.Lock()
	wasRunning := !rw.stopped
	rw.stopped = true // the pending timer finds it stopped; no Stop from the cleanup goroutine
	rw.mu.Unlock()
	if wasRunning {
		rw.log.Warn("session: session dropped while locked (WriteClose never called); its lock expires within its TTL",
			"session", fingerprint(rw.id), "ttl", rw.ttl)
	}
}

func addCleanup(s *Session, rw *renewer) runtime.Cleanup {
	return runtime.AddCleanup(s, (*renewer).abandon, rw)
}
