package session_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lifeline-go/lifeline/session"
)

// phpID is a session id as PHP issues it (sid_length 26,
// sid_bits_per_character 5).
const phpID = "k3v9q1m7a2c8t0r5u6b4n1h2j9"

// phpStart starts the session of a request carrying PHPSESSID=id.
func phpStart(t *testing.T, m *session.Manager, id string) (*session.Session, *httptest.ResponseRecorder, error) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(&http.Cookie{Name: "PHPSESSID", Value: id})
	w := httptest.NewRecorder()
	s, err := m.Start(w, r)
	return s, w, err
}

// TestMigration: with WithMigration, a PHP session id is adopted when the
// old system knows it, and its values come along; strict mode holds for
// every other id, and without the option no foreign id is read at all.
func TestMigration(t *testing.T) {
	var loads atomic.Int32
	old := map[string]map[string]any{phpID: {"user": "ada", "cart": []int{3, 4}}}
	errOld := errors.New("old store: connection refused")
	load := func(ctx context.Context, id string) (map[string]any, error) {
		loads.Add(1)
		if id == "k3v9q1m7a2c8t0r5u6b4n1h2jX" {
			return nil, errOld
		}
		return old[id], nil
	}
	tests := []struct {
		name      string
		opts      []session.Option
		id        string
		wantID    string // "" = a new Lifeline id
		wantUser  string
		wantLoads int32
		wantErr   error
	}{
		{name: "strict default: a PHP id is not read", id: phpID, wantLoads: 0},
		{name: "known to the old system: adopted with its values", opts: []session.Option{session.WithMigration(session.PHPSessionID, load)},
			id: phpID, wantID: phpID, wantUser: "ada", wantLoads: 1},
		{name: "unknown to the old system: a new id", opts: []session.Option{session.WithMigration(session.PHPSessionID, load)},
			id: "a0000000000000000000000000", wantLoads: 1},
		{name: "not accepted: never reaches load", opts: []session.Option{session.WithMigration(session.PHPSessionID, load)},
			id: "short", wantLoads: 0},
		{name: "unsafe for a store: never reaches accept", opts: []session.Option{session.WithMigration(func(string) bool { return true }, load)},
			id: "{x}:" + phpID, wantLoads: 0},
		{name: "the old system fails", opts: []session.Option{session.WithMigration(session.PHPSessionID, load)},
			id: "k3v9q1m7a2c8t0r5u6b4n1h2jX", wantLoads: 1, wantErr: errOld},
		{name: "accepted, no loader: only what the store holds", opts: []session.Option{session.WithMigration(session.PHPSessionID, nil)},
			id: phpID, wantLoads: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loads.Store(0)
			m := newManager(t, newMemStore(t), append([]session.Option{session.WithCookieName("PHPSESSID")}, tt.opts...)...)
			s, _, err := phpStart(t, m, tt.id)
			if loads.Load() != tt.wantLoads {
				t.Errorf("load called %d times, want %d", loads.Load(), tt.wantLoads)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || strings.Contains(err.Error(), tt.id) {
					t.Errorf("Start = %v, want an error wrapping %v that does not show the id", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Start = %v", err)
			}
			defer s.Abort(context.Background())
			if tt.wantID == "" {
				if _, err := session.ParseID(s.ID()); err != nil {
					t.Errorf("ID() = %q, want a new Lifeline id", s.ID())
				}
				return
			}
			if s.ID() != tt.wantID {
				t.Errorf("ID() = %q, want %q", s.ID(), tt.wantID)
			}
			if user, _, _ := session.Value[string](s, "user"); user != tt.wantUser {
				t.Errorf("user = %q, want %q", user, tt.wantUser)
			}
		})
	}
}

// TestMigrationSaved: an adopted session is saved in the store under its
// id, so the next request reads it from there; Regenerate moves it to a
// Lifeline id.
func TestMigrationSaved(t *testing.T) {
	var loads atomic.Int32
	load := func(ctx context.Context, id string) (map[string]any, error) {
		loads.Add(1)
		return map[string]any{"n": 1}, nil
	}
	m := newManager(t, newMemStore(t), session.WithCookieName("PHPSESSID"), session.WithMigration(session.PHPSessionID, load))
	s, w, err := phpStart(t, m, phpID)
	if err != nil {
		t.Fatal(err)
	}
	if c := w.Result().Cookies(); len(c) != 1 || c[0].Value != phpID || !c[0].HttpOnly {
		t.Errorf("cookies %v, want PHPSESSID=%s, HttpOnly", c, phpID)
	}
	_ = s.Set("n", 2)
	if err := s.WriteClose(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, _, err = phpStart(t, m, phpID)
	if err != nil {
		t.Fatal(err)
	}
	if n, _, _ := session.Value[int](s, "n"); n != 2 || loads.Load() != 1 {
		t.Errorf("second request: n = %d, load called %d times; want 2 from the store, 1 load", n, loads.Load())
	}
	if err := s.Regenerate(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if _, err := session.ParseID(s.ID()); err != nil {
		t.Errorf("after Regenerate ID() = %q, want a Lifeline id", s.ID())
	}
	_ = s.WriteClose(context.Background())
}

func TestPHPSessionID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{phpID, true},
		{"0123456789abcdef0123456789abcdef", true}, // sid_bits_per_character 4, length 32
		{"aZ,-09aZ,-09aZ,-09aZ,-", true},           // 6 bits, length 22
		{strings.Repeat("a", 21), false},           // below sid_length's minimum
		{strings.Repeat("a", 257), false},          // above its maximum
		{"k3v9q1m7a2c8t0r5u6b4n1h2j_", false},      // not PHP's alphabet
		{"k3v9q1m7a2c8t0r5u6b4n1h2j;", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := session.PHPSessionID(tt.id); got != tt.want {
			t.Errorf("PHPSessionID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestWithMigrationNil(t *testing.T) {
	if _, err := session.New(newMemStore(t), session.WithMigration(nil, nil)); !errors.Is(err, session.ErrInvalidOption) {
		t.Errorf("New(WithMigration(nil, nil)) = %v, want ErrInvalidOption", err)
	}
}
