package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// open locks and loads the session id (or a new one when id is "" or
// unknown) and makes s active.
func (s *Session) open(ctx context.Context, id string) error {
	m := s.m
	if id != "" {
		s.annotate("waiting", id)
		tok, err := m.lock(ctx, id)
		if err != nil {
			s.annotate("", "")
			return fmt.Errorf("session: start: %w", err)
		}
		data, err := m.store.Load(ctx, id)
		if err == nil {
			deadline, values, derr := decodeRecord(data)
			if derr == nil && time.Now().Before(deadline) {
				s.activate(id, tok, deadline, values, data, false)
				return nil
			}
			// Undecodable (PHP destroys it) or past its lifetime.
			err = derr
			if delErr := m.store.Delete(ctx, id, tok); delErr != nil {
				err = errors.Join(err, delErr)
			}
		}
		if errors.Is(err, ErrNotFound) {
			err = nil // strict mode: an unknown id is not adopted...
			if m.opts.importSession != nil && isForeign(id) {
				// ...unless the system that issued it knows it (WithMigration).
				imported, ierr := s.importForeign(ctx, id, tok)
				if imported {
					return nil
				}
				err = ierr
			}
		}
		uerr := m.unlock(ctx, id, tok)
		if err != nil {
			s.annotate("", "")
			return errors.Join(fmt.Errorf("session: start: %w", err), uerr)
		}
	}
	id = newID()
	s.annotate("waiting", id)
	tok, err := m.lock(ctx, id)
	if err != nil {
		s.annotate("", "")
		return fmt.Errorf("session: start: %w", err)
	}
	deadline := time.Now().Add(m.opts.lifetime)
	s.activate(id, tok, deadline, make(map[string]json.RawMessage), nil, true)
	s.setCookie(id, deadline)
	return nil
}

// activate makes s the active holder of id's lock.
func (s *Session) activate(id string, tok LockToken, deadline time.Time, values map[string]json.RawMessage, loaded []byte, isNew bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.id, s.tok, s.deadline, s.values, s.loaded, s.isNew = id, tok, deadline, values, loaded, isNew
	s.active = true
	s.renew = s.m.startRenewer(s.bg, id, tok)
	// A session dropped without being closed stops renewing its lock when
	// it is garbage collected, so the lock expires within its TTL.
	s.cleanup = addCleanup(s, s.renew)
	s.annotateLocked("locked")
}

// WriteClose writes the session and releases its lock at once (PHP's
// session_write_close): a request waiting for this session proceeds while
// this one goes on with slow work. With lazy write (the default) unchanged
// data is not rewritten, only its expiry is moved ([Store.Touch]). Later
// changes fail with [ErrSessionClosed]; reading still works.
//
// The lock is released even when the write fails or ctx is cancelled; the
// write's error is returned. [ErrLockLost] means the lock had expired (the
// holder stalled for longer than the lock TTL, or held it past
// [WithMaxLockHold]) and the write was refused so as not to overwrite what
// the next holder saved. On a session that is not active it returns an
// error matching [ErrSessionClosed].
func (s *Session) WriteClose(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeLocked(ctx, closeWrite)
}

// Abort releases the lock without writing (PHP's session_abort): the
// changes of this request are dropped. It returns an error matching
// [ErrSessionClosed] on a session that is not active.
func (s *Session) Abort(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeLocked(ctx, closeAbort)
}

// Destroy deletes the session from the store and releases its lock (PHP's
// session_destroy), and asks the client to drop the cookie when the
// headers have not been sent. The values stay readable in s. It returns an
// error matching [ErrSessionClosed] on a session that is not active.
func (s *Session) Destroy(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.closeLocked(ctx, closeDestroy); err != nil {
		return err
	}
	if s.w != nil && (s.rn == nil || !s.rn.Output().HeadersSent()) {
		c := s.cookie(s.id, time.Time{})
		c.Value, c.MaxAge = "", -1
		replaceCookie(s.w.Header(), c)
	}
	return nil
}

type closeMode uint8

const (
	closeWrite closeMode = iota
	closeAbort
	closeDestroy
)

// closeLocked ends the active session: write, abort or destroy, then
// unlock. s.mu must be held.
func (s *Session) closeLocked(ctx context.Context, mode closeMode) error {
	if !s.active {
		return fmt.Errorf("session: close: %w", ErrSessionClosed)
	}
	s.active = false
	s.renew.stop()
	s.cleanup.Stop()
	var err error
	switch mode {
	case closeWrite:
		err = s.writeLocked(ctx)
	case closeDestroy:
		if derr := s.m.store.Delete(ctx, s.id, s.tok); derr != nil {
			err = fmt.Errorf("session: destroy: %w", derr)
		}
	}
	if uerr := s.m.unlock(ctx, s.id, s.tok); uerr != nil && !(err != nil && errors.Is(uerr, ErrLockLost)) {
		err = errors.Join(err, uerr)
	}
	s.m.detach(s)
	s.annotateLocked("released")
	return err
}

// writeLocked saves the session, or only touches it when lazy write finds
// nothing changed (PHP's php_session_save_current_state).
func (s *Session) writeLocked(ctx context.Context) error {
	ttl := s.m.ttl(s.deadline)
	if ttl <= 0 { // the lifetime ended during the request
		if err := s.m.store.Delete(ctx, s.id, s.tok); err != nil {
			return fmt.Errorf("session: write: %w", err)
		}
		return nil
	}
	data, err := encodeRecord(s.deadline, s.values)
	if err != nil {
		return err
	}
	if !s.isNew && s.m.opts.lazyWrite && bytes.Equal(data, s.loaded) {
		err = s.m.store.Touch(ctx, s.id, s.tok, ttl)
		if !errors.Is(err, ErrNotFound) {
			if err != nil {
				return fmt.Errorf("session: touch: %w", err)
			}
			return nil
		}
		// The data vanished meanwhile: write it again (PHP's files
		// handler recreates the file in update_timestamp).
	}
	if err := s.m.store.Save(ctx, s.id, s.tok, data, ttl); err != nil {
		return fmt.Errorf("session: write: %w", err)
	}
	s.isNew, s.loaded = false, data
	return nil
}

// Reset discards this request's changes and reloads the session from the
// store, keeping the lock (PHP's session_reset). It returns an error
// matching [ErrSessionClosed] on a session that is not active, and
// [ErrCorrupt] if the stored record cannot be decoded (the values are then
// unchanged).
func (s *Session) Reset(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active {
		return fmt.Errorf("session: reset: %w", ErrSessionClosed)
	}
	if s.isNew {
		clear(s.values)
		return nil
	}
	data, err := s.m.store.Load(ctx, s.id)
	if errors.Is(err, ErrNotFound) {
		clear(s.values)
		s.isNew, s.loaded = true, nil
		return nil
	}
	if err != nil {
		return fmt.Errorf("session: reset: %w", err)
	}
	deadline, values, err := decodeRecord(data)
	if err != nil {
		return fmt.Errorf("session: reset: %w", err)
	}
	s.deadline, s.values, s.loaded = deadline, values, data
	return nil
}

// Regenerate gives the session a new id, keeping its values, lock and
// lifetime, and sets the new cookie (PHP's session_regenerate_id). Call it
// when privileges change, e.g. at login, against session fixation. With
// deleteOld the old id's data is deleted; otherwise the current values are
// written under the old id too, as PHP does, for requests still in flight
// with the old cookie. Inside a run whose headers were sent it returns an
// error matching [ErrHeadersSent] and changes nothing; on a session that is
// not active, [ErrSessionClosed].
func (s *Session) Regenerate(ctx context.Context, deleteOld bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active {
		return fmt.Errorf("session: regenerate: %w", ErrSessionClosed)
	}
	if s.rn != nil && s.rn.Output().HeadersSent() {
		return headersSent(s.rn, "session id cannot be regenerated")
	}
	id := newID()
	tok, err := s.m.lock(ctx, id)
	if err != nil {
		return fmt.Errorf("session: regenerate: %w", err)
	}
	switch {
	case deleteOld:
		err = s.m.store.Delete(ctx, s.id, s.tok)
	case !s.isNew:
		err = s.writeLocked(ctx)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("session: regenerate: %w", err), s.m.unlock(ctx, id, tok))
	}
	s.renew.stop()
	s.cleanup.Stop()
	uerr := s.m.unlock(ctx, s.id, s.tok)
	s.id, s.tok, s.isNew, s.loaded = id, tok, true, nil
	s.renew = s.m.startRenewer(s.bg, id, tok)
	s.cleanup = addCleanup(s, s.renew)
	s.setCookie(id, s.deadline)
	s.annotateLocked("locked")
	if uerr != nil {
		s.m.log.Warn("session: releasing the old id after regenerate", "err", uerr)
	}
	return nil
}

// importForeign asks the old system for the session id (WithMigration),
// holding id's lock, and starts the session under id with its values if
// that system knows it. It reports whether it did.
func (s *Session) importForeign(ctx context.Context, id string, tok LockToken) (bool, error) {
	vals, err := s.m.opts.importSession(ctx, id)
	if err != nil {
		return false, fmt.Errorf("import %s: %w", fingerprint(id), err)
	}
	if vals == nil {
		return false, nil
	}
	values := make(map[string]json.RawMessage, len(vals))
	for k, v := range vals {
		raw, err := json.Marshal(v)
		if err != nil {
			return false, fmt.Errorf("import %s: value %q: %w: %w", fingerprint(id), k, ErrCorrupt, err)
		}
		values[k] = raw
	}
	deadline := time.Now().Add(s.m.opts.lifetime)
	s.activate(id, tok, deadline, values, nil, true) // new here: written at its close
	s.setCookie(id, deadline)
	return true, nil
}
