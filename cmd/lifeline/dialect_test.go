package main

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/pgtest"
	"github.com/lifeline-go/lifeline/session"
	"github.com/lifeline-go/lifeline/session/sessiontest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// eachDatabase runs f in parallel subtests, once on SQLite (a fresh data
// directory) and once on a fresh PostgreSQL database, with the flags that
// select it.
func eachDatabase(t *testing.T, f func(t *testing.T, flags []string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		f(t, nil)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		f(t, []string{"-database", pgtest.Shared(t).Database(t)})
	})
}

// openTestDatabase opens the database that flags select (see eachDatabase).
func openTestDatabase(t *testing.T, flags []string) *database {
	t.Helper()
	url := ""
	if len(flags) == 2 {
		url = flags[1]
	}
	db, err := openDatabase(context.Background(), t.TempDir(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.close() })
	return db
}

// The SQL session store keeps the contract of session.Store on SQLite and
// PostgreSQL.
func TestSessionStoreConformance(t *testing.T) {
	eachDatabase(t, func(t *testing.T, flags []string) {
		sessiontest.Run(t, func(t *testing.T) session.Store {
			db := openTestDatabase(t, flags)
			if _, err := db.Exec(`DELETE FROM sessions`); err != nil {
				t.Fatal(err)
			}
			return &sessionStore{db: db}
		})
	})
}

// An order commits with its email job, which runs at once and records one
// email; the order is confirmed once its answer was delivered; a second
// order with the same ref gets 409 and no job. On both databases.
func TestOrderWithJob(t *testing.T) {
	eachDatabase(t, func(t *testing.T, flags []string) {
		ts := startServer(t, flags...)
		c := newClient(t, "HTTP/1.1")
		resp := do(t, c, http.MethodPost, ts.base+"/demo/order?work=10ms&email=50ms&ref=J1", nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("answer: %s %s, want 201", resp.Status, resp.body)
		}
		var ord order
		eventually(t, 10*time.Second, "the order to be confirmed and emailed", func() bool {
			ord, _ = findOrder(t, ts, "J1")
			return ord.State == stateConfirmed && !ord.Emailed.IsZero()
		})
		waitJobDone(t, ts, ord.Job, "email", 50*time.Millisecond)
		if resp := do(t, c, http.MethodPost, ts.base+"/demo/order?work=0s&ref=J1", nil); resp.StatusCode != http.StatusConflict {
			t.Errorf("second order J1: %s, want 409", resp.Status)
		}
		if n := len(jobList(t, ts)); n != 1 {
			t.Errorf("%d jobs, want 1", n)
		}
		if ord, _ := findOrder(t, ts, "J1"); ord.Emails != 1 {
			t.Errorf("%d emails for J1, want 1", ord.Emails)
		}
	})
}
