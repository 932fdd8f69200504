package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-go/lifeline/internal/pgtest"
)

// previousOrders is the orders table as the server before the email job
// stopped writing the order's row made it: with its emailed column, which
// the server now reads from the emails table instead.
const previousOrders = `CREATE TABLE orders (
	ref      TEXT PRIMARY KEY,
	state    TEXT NOT NULL,
	items    TEXT NOT NULL,
	work     TEXT NOT NULL,
	run      BIGINT NOT NULL,
	instance TEXT NOT NULL,
	status   TEXT NOT NULL DEFAULT '',
	reason   TEXT NOT NULL DEFAULT '',
	job      BIGINT NOT NULL DEFAULT 0,
	emailed  BIGINT NOT NULL DEFAULT 0,
	created  BIGINT NOT NULL,
	placed   BIGINT NOT NULL DEFAULT 0,
	updated  BIGINT NOT NULL
)`

// TestPreviousSchema: the server started on a database the previous
// version wrote (its orders table has the emailed column) lists that
// version's orders with their email's time, places and emails new orders,
// and places again an order that had failed (the upsert over the old row).
// On both databases.
func TestPreviousSchema(t *testing.T) {
	sent := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			dir, url, flags := t.TempDir(), "", []string(nil)
			if dialect == "postgres" {
				url = pgtest.Shared(t).Database(t)
				flags = []string{"-database", url}
			} else {
				flags = []string{"-data", dir}
			}
			ctx := context.Background()
			db, err := openDatabase(ctx, dir, url)
			if err != nil {
				t.Fatal(err)
			}
			created := time.Now().Add(-time.Hour).UnixNano()
			for _, stmt := range []string{
				`DROP TABLE IF EXISTS orders`, // a test database may come with today's
				previousOrders,
				`INSERT INTO orders (ref, state, items, work, run, instance, job, emailed, created, placed, updated)
					VALUES ('OLD1', 'confirmed', '["a"]', '10ms', 1, 'old', 7, $1, $2, $2, $2)`,
				`INSERT INTO orders (ref, state, items, work, run, instance, reason, created, updated)
					VALUES ('OLD2', 'failed', '["b"]', '10ms', 2, 'old', 'time limit', $1, $1)`,
			} {
				var args []any
				switch {
				case strings.Contains(stmt, "$2"):
					args = []any{sent.UnixNano(), created}
				case strings.Contains(stmt, "$1"):
					args = []any{created}
				}
				if _, err := db.ExecContext(ctx, db.q(stmt), args...); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			// The emails table is the same in both versions.
			if err := db.migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, db.q(`INSERT INTO emails (ref, job, instance, sent) VALUES ('OLD1', 7, 'old', $1)`), sent.UnixNano()); err != nil {
				t.Fatal(err)
			}
			if err := db.close(); err != nil {
				t.Fatal(err)
			}

			ts := startServer(t, flags...)
			old, ok := findOrder(t, ts, "OLD1")
			if !ok || !old.Emailed.Equal(sent) || old.Emails != 1 || old.State != stateConfirmed {
				t.Errorf("the previous version's order: %+v (found %v), want confirmed, emailed at %v, 1 email", old, ok, sent)
			}
			c := newClient(t, "HTTP/1.1")
			for _, ref := range []string{"NEW1", "OLD2"} {
				if resp := do(t, c, http.MethodPost, ts.base+"/demo/order?work=10ms&email=10ms&ref="+ref, nil); resp.StatusCode != http.StatusCreated {
					t.Fatalf("order %s: %s %s, want 201", ref, resp.Status, resp.body)
				}
				eventually(t, 20*time.Second, "order "+ref+" to be confirmed and emailed", func() bool {
					o, _ := findOrder(t, ts, ref)
					return o.State == stateConfirmed && !o.Emailed.IsZero() && o.Emails == 1
				})
			}
		})
	}
}
