package session_test

// Ports of the php-src session tests listed in PHP-SEMANTICS.md §10 item 40,
// and of the empirical case §11 E15.

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lifeline-go/lifeline/session"
)

// TestPHPReadAndClose ports ext/session/tests/session_start_read_and_close.phpt:
// session_start(['read_and_close' => true]) leaves session_status() at
// PHP_SESSION_NONE, a plain session_start() at PHP_SESSION_ACTIVE until
// session_write_close(). PHP's truthiness table for the option (true, 1,
// "1", "777", -1 enable; "true", "no", "0" disable; a float is a TypeError)
// has no Go counterpart: read-and-close is its own typed method,
// [session.Manager.StartReadOnly].
func TestPHPReadAndClose(t *testing.T) {
	m := newManager(t, newMemStore(t))
	ctx := context.Background()
	s, rec := start(t, m, nil)
	_ = s.Set("foo", "bar")
	_ = s.WriteClose(ctx)
	cookie := sessionCookie(t, rec)

	tests := []struct {
		name       string
		readOnly   bool
		wantActive bool
	}{
		{"read_and_close enabled", true, false},
		{"read_and_close disabled", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s *session.Session
			var err error
			if tt.readOnly {
				s, err = m.StartReadOnly(request(cookie))
			} else {
				s, err = m.Start(httptestRecorder(), request(cookie))
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Active() != tt.wantActive {
				t.Errorf("Active() = %v, want %v", s.Active(), tt.wantActive)
			}
			if foo, _, _ := session.Value[string](s, "foo"); foo != "bar" {
				t.Errorf("foo = %q, want bar: the data is read either way", foo)
			}
			if s.Active() {
				_ = s.WriteClose(ctx)
				if s.Active() {
					t.Error("Active() after WriteClose")
				}
			}
		})
	}
}

// TestPHPLazyWriteUpdate ports
// ext/session/tests/user_session_module/session_set_save_handler_variation6.phpt
// (session.lazy_write=1): the first two passes change the data and call
// Write; the third changes nothing and calls Update (update_timestamp)
// instead; the cleanup pass reads and destroys. PHP's
// Open/CreateID/Read/Write/Update/Destroy/Close map to Lock/Load/Save/
// Touch/Delete/Unlock. PHP's first pass reads the new id's empty file; a
// new Lifeline session has nothing to read.
func TestPHPLazyWriteUpdate(t *testing.T) {
	store := newRecStore(t)
	m := newManager(t, store)
	ctx := context.Background()

	s, rec := start(t, m, nil)
	_ = s.Set("Blah", "Hello World!")
	_ = s.Set("Foo", false)
	_ = s.Set("Guff", 1234567890)
	_ = s.WriteClose(ctx)
	wantOps(t, store, "Lock", "Save", "Unlock")
	if got := s.Keys(); len(got) != 3 {
		t.Errorf("values after session_write_close: %v, want still 3", got)
	}
	cookie := sessionCookie(t, rec)

	s, _ = start(t, m, cookie)
	if got := s.Keys(); len(got) != 3 {
		t.Errorf("second pass read %v, want 3 values", got)
	}
	_ = s.Set("Bar", "Foo")
	_ = s.WriteClose(ctx)
	wantOps(t, store, "Lock", "Load", "Save", "Unlock")

	s, _ = start(t, m, cookie)
	if got := s.Keys(); len(got) != 4 {
		t.Errorf("third pass read %v, want 4 values", got)
	}
	_ = s.Set("Bar", "Foo") // the same value: still unchanged
	_ = s.WriteClose(ctx)
	wantOps(t, store, "Lock", "Load", "Touch", "Unlock") // "Update", not "Write"

	s, _ = start(t, m, cookie)
	_ = s.Destroy(ctx)
	wantOps(t, store, "Lock", "Load", "Delete", "Unlock")
}

// TestPHPE15 ports PHP-SEMANTICS.md §11 E15 (verified on PHP 8.2): two
// requests with the same session id, the first holding it for 2 s; the
// second, arriving 0.3 s later, blocks ~1.7 s; it does not block at all when
// the first calls session_write_close() before sleeping, or when the second
// uses read_and_close.
func TestPHPE15(t *testing.T) {
	tests := []struct {
		name       string
		writeClose bool // the holder calls WriteClose before its 2 s of work
		readOnly   bool // the second request uses read_and_close
		want       time.Duration
	}{
		{"locked", false, false, 1700 * time.Millisecond},
		{"session_write_close", true, false, 0},
		{"read_and_close", false, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := newManager(t, newMemStore(t))
				s, rec := start(t, m, nil)
				_ = s.WriteClose(context.Background())
				cookie := sessionCookie(t, rec)

				done := make(chan struct{})
				go func() { // the holder: PHP's sleep(2) with the session open
					defer close(done)
					s, _ := start(t, m, cookie)
					if tt.writeClose {
						_ = s.WriteClose(context.Background())
					}
					time.Sleep(2 * time.Second)
					_ = s.WriteClose(context.Background())
				}()
				time.Sleep(300 * time.Millisecond)
				began := time.Now()
				if tt.readOnly {
					if _, err := m.StartReadOnly(request(cookie)); err != nil {
						t.Fatal(err)
					}
				} else {
					s, _ := start(t, m, cookie)
					_ = s.WriteClose(context.Background())
				}
				if waited := time.Since(began); waited != tt.want {
					t.Errorf("second request waited %v, want %v", waited, tt.want)
				}
				<-done
			})
		})
	}
}
