package reliability

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // the reference server's database

	"github.com/lifeline-go/lifeline/internal/pgtest"
)

// refOrder is an order of the reference server as its orders table and
// GET /demo/orders give it (cmd/lifeline/orders.go).
type refOrder struct {
	Ref      string   `json:"ref"`
	State    string   `json:"state"`
	Items    []string `json:"items"`
	Run      uint64   `json:"run"`
	Instance string   `json:"instance"`
	Status   string   `json:"status"`
	Reason   string   `json:"reason"`
	Job      int64    `json:"job"`
	Emails   int      `json:"emails"`
}

// refJob is a River job of the reference server (its river_job table).
type refJob struct {
	ID      int64
	Kind    string
	State   string
	Attempt int
	Args    struct {
		Ref  string        `json:"ref"`
		Work time.Duration `json:"work"`
		Run  uint64        `json:"run"`
	}
}

// openRefDB opens the database of a reference server: the SQLite file in
// its data directory dir (read-only: the server may still run), or the
// PostgreSQL database at url when url is not empty.
func openRefDB(dir, url string) (*sql.DB, error) {
	if url != "" {
		return sql.Open("pgx", url)
	}
	path := filepath.Join(dir, "lifeline.sqlite")
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// eachRefDatabase runs f in a subtest per database the reference server
// keeps its data in: "sqlite" (url empty: the file in its data directory)
// and "postgres" (url: a fresh database of the shared PostgreSQL server of
// internal/pgtest).
func eachRefDatabase(t *testing.T, f func(t *testing.T, db, url string)) {
	t.Helper()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			url := ""
			if db == "postgres" {
				url = pgtest.Shared(t).Database(t)
			}
			f(t, db, url)
		})
	}
}

// refArgs are the arguments of a reference server on loopback with its
// data in dir, or in the PostgreSQL database at url when url is not empty,
// followed by extra.
func refArgs(dir, url string, extra ...string) []string {
	args := []string{"-addr", "127.0.0.1:0", "-data", dir}
	if url != "" {
		args = append(args, "-database", url)
	}
	return append(args, extra...)
}

// refOrdersDB reads every order, with the number of emails sent for it.
func refOrdersDB(dir, url string) ([]refOrder, error) {
	db, err := openRefDB(dir, url)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT ref, state, items, run, instance, status, reason, job,
		(SELECT count(*) FROM emails WHERE emails.ref = orders.ref) FROM orders`)
	if err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	defer rows.Close()
	var out []refOrder
	for rows.Next() {
		var (
			o     refOrder
			items string
			run   int64
		)
		if err := rows.Scan(&o.Ref, &o.State, &items, &run, &o.Instance, &o.Status, &o.Reason, &o.Job, &o.Emails); err != nil {
			return nil, fmt.Errorf("orders: %w", err)
		}
		if err := json.Unmarshal([]byte(items), &o.Items); err != nil {
			return nil, fmt.Errorf("order %s: %w", o.Ref, err)
		}
		o.Run = uint64(run)
		out = append(out, o)
	}
	return out, rows.Err()
}

// refOrders reads the orders of the reference server in data directory dir.
func refOrders(dir string) ([]refOrder, error) { return refOrdersDB(dir, "") }

// refJobsDB reads River's jobs.
func refJobsDB(dir, url string) ([]refJob, error) {
	db, err := openRefDB(dir, url)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	args := "args"
	if url == "" {
		args = "json(args)" // River's SQLite driver stores JSONB
	}
	rows, err := db.Query(`SELECT id, kind, state, attempt, ` + args + ` FROM river_job`)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	defer rows.Close()
	var out []refJob
	for rows.Next() {
		var (
			j    refJob
			args []byte
		)
		if err := rows.Scan(&j.ID, &j.Kind, &j.State, &j.Attempt, &args); err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
		if err := json.Unmarshal(args, &j.Args); err != nil {
			return nil, fmt.Errorf("job %d: %w", j.ID, err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// refJobs reads the jobs of the reference server in data directory dir.
func refJobs(dir string) ([]refJob, error) { return refJobsDB(dir, "") }

// jobPending reports whether a job's state means it will still run: River
// runs it at the next start or on another instance.
func jobPending(state string) bool {
	return state == "available" || state == "retryable" || state == "scheduled" || state == "running"
}

// statusSnapshot is the part of the status page's JSON (/status?json) the
// scenarios compare with their own counts.
type statusSnapshot struct {
	AcceptedRuns  uint64            `json:"accepted_runs"`
	ActiveRuns    int               `json:"active_runs"`
	FinishedRuns  int               `json:"finished_runs"`
	EndedRuns     uint64            `json:"ended_runs"`
	EndedByStatus map[string]uint64 `json:"ended_by_status"`
	AbortsByCause map[string]uint64 `json:"aborts_by_cause"`
	TimeLimitHits uint64            `json:"time_limit_hits"`
	RunawayTotal  uint64            `json:"runaway_total"`
	HandlerPanics uint64            `json:"handler_panics"`
	MaxActiveRuns int               `json:"max_active_runs"`
}
