package session_test

import (
	"context"
	"testing"

	"github.com/lifeline-go/lifeline/session"
)

// TestAdversaryMigrationFixation: an attacker who holds a session of the
// old system plants its id in a victim's browser. The victim's request
// adopts it (the old system knows it), the victim logs in and the
// application regenerates the id, as WithMigration's doc says: the
// attacker's next request with the planted id never reaches the victim's
// session, and an id the old system does not know never becomes a session
// at all.
func TestAdversaryMigrationFixation(t *testing.T) {
	const planted = "a1b2c3d4e5f6g7h8i9j0k1l2m3" // the attacker's session in the old system
	load := func(ctx context.Context, id string) (map[string]any, error) {
		if id == planted {
			return map[string]any{"user": ""}, nil // the attacker's anonymous session
		}
		return nil, nil
	}
	m := newManager(t, newMemStore(t), session.WithCookieName("PHPSESSID"), session.WithMigration(session.PHPSessionID, load))

	// The victim arrives with the planted id and logs in.
	victim, _, err := phpStart(t, m, planted)
	if err != nil {
		t.Fatal(err)
	}
	if victim.ID() != planted {
		t.Fatalf("victim's session %q, want the planted id adopted", victim.ID())
	}
	if err := victim.Regenerate(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	_ = victim.Set("user", "victim")
	if err := victim.WriteClose(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The attacker comes back with the planted id.
	attacker, _, err := phpStart(t, m, planted)
	if err != nil {
		t.Fatal(err)
	}
	if user, _, _ := session.Value[string](attacker, "user"); user == "victim" || attacker.ID() == victim.ID() {
		t.Errorf("the planted id reached the victim's session: id %q, user %q", attacker.ID(), user)
	}
	_ = attacker.Abort(context.Background())

	// An id the old system does not know gets a fresh Lifeline id, and is
	// not kept: presenting it again gives another fresh id.
	for range 2 {
		s, _, err := phpStart(t, m, "zzzzzzzzzzzzzzzzzzzzzzzzzz")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := session.ParseID(s.ID()); err != nil {
			t.Errorf("unknown foreign id: session %q, want a fresh Lifeline id", s.ID())
		}
		_ = s.Set("k", 1)
		_ = s.WriteClose(context.Background())
	}
}
