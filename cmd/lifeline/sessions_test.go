package main

import (
	"context"
	"testing"

	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/sessiontest"
)

// The SQL session store keeps the contract of session.Store on SQLite.
func TestSessionStoreConformance(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) session.Store {
		db, err := openDatabase(context.Background(), t.TempDir(), "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.close() })
		return &sessionStore{db: db}
	})
}
