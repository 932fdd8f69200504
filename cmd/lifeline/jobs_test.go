package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// testQueueConfig is a job queue whose rescuer would not run any job again
// within a test: what runs again runs by the hand back.
var testQueueConfig = queueConfig{maxWorkers: 4, jobTimeout: time.Minute, rescue: 2 * time.Minute,
	poll: 50 * time.Millisecond, stopAfter: 5 * time.Second}

// A job that a dead process of the instance left running is handed back
// when the next process starts: a copy runs at once and sends the email,
// the original is marked for cancellation. When the original's run comes
// back after all (a process cut off from the database, not dead), it finds
// the email sent and writes no second one. On both databases.
func TestHandBack(t *testing.T) {
	eachDatabase(t, func(t *testing.T, flags []string) {
		db := openTestDatabase(t, flags)
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		ctx := context.Background()

		// The "dead" process: a River client of the instance whose email
		// worker takes the job and does not return until released.
		dead := &app{cfg: config{instance: "shop"}, log: log, db: db}
		release, taken := make(chan struct{}), make(chan int64, 1)
		workers := river.NewWorkers()
		river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[emailArgs]) error {
			taken <- j.ID
			<-release
			return dead.sendEmail(context.WithoutCancel(ctx), j)
		}))
		var err error
		if dead.queue, err = newQueue(dead, testQueueConfig); err != nil {
			t.Fatal(err)
		}
		dc, err := river.NewClient(newDriver(db), &river.Config{
			ID: "shop-deaddeaddead", Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 1}},
			Workers: workers, JobTimeout: -1, FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond,
			Logger: log,
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err := dc.Insert(ctx, emailArgs{Ref: "H1", Work: 0}, nil)
		if err != nil {
			t.Fatal(err)
		}
		orig := res.Job.ID
		if err := dc.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_ = dc.StopAndCancel(sctx)
		})
		select {
		case <-taken:
		case <-time.After(10 * time.Second):
			t.Fatal("the dead process's client did not take the job")
		}

		// The next process of the instance.
		next := &app{cfg: config{instance: "shop"}, log: log, db: db}
		if next.queue, err = newQueue(next, testQueueConfig); err != nil {
			t.Fatal(err)
		}
		started := time.Now()
		owned, err := db.lockInstance(ctx, "shop")
		if err != nil || !owned {
			t.Fatalf("lockInstance: %v, %v; want the lock", owned, err)
		}
		if err := next.queue.start(ctx, owned); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := next.queue.stop(sctx); err != nil {
				t.Error(err)
			}
		})
		eventually(t, 10*time.Second, "the email of H1", func() bool { return emailCount(t, db, "H1") == 1 })
		t.Logf("start → email: %v", time.Since(started))

		row, err := next.queue.client.JobGet(ctx, orig)
		if err != nil {
			t.Fatal(err)
		}
		if !cancelRequested(row) || row.State != rivertype.JobStateRunning {
			t.Errorf("original job: %s, metadata %s; want running with its cancellation requested", row.State, row.Metadata)
		}
		list, err := next.queue.client.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateCompleted))
		if err != nil {
			t.Fatal(err)
		}
		var replaces int64
		if len(list.Jobs) == 1 {
			var m struct{ Replaces int64 }
			_ = json.Unmarshal(list.Jobs[0].Metadata, &m)
			replaces = list.Jobs[0].ID
			if m.Replaces != orig {
				t.Errorf("the completed copy's metadata %s, want replaces %d", list.Jobs[0].Metadata, orig)
			}
		} else {
			t.Errorf("%d completed jobs, want 1 (the copy)", len(list.Jobs))
		}

		// The original's run comes back: it finds the email sent.
		close(release)
		eventually(t, 10*time.Second, "the original job to end", func() bool {
			row, err := next.queue.client.JobGet(ctx, orig)
			return err == nil && row.State != rivertype.JobStateRunning
		})
		if n := emailCount(t, db, "H1"); n != 1 {
			t.Errorf("%d emails for H1 after both runs, want 1", n)
		}
		if row, err := next.queue.client.JobGet(ctx, orig); err != nil || row.State != rivertype.JobStateCompleted {
			t.Errorf("original job after its run came back: %v %v, want completed (the email found sent)", row.State, err)
		}
		var job int64
		if err := db.QueryRow(db.q(`SELECT job FROM emails WHERE ref = $1`), "H1").Scan(&job); err != nil || job != replaces {
			t.Errorf("the email was sent by job %d (%v), want the copy %d", job, err, replaces)
		}
	})
}

// emailCount returns how many emails were sent for the order ref.
func emailCount(t *testing.T, db *database, ref string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(db.q(`SELECT count(*) FROM emails WHERE ref = $1`), ref).Scan(&n); err != nil && err != sql.ErrNoRows {
		t.Fatal(err)
	}
	return n
}

// On PostgreSQL, an instance's name is held by one live process at a time:
// a second process given the same name does not hand back its jobs, and
// takes the name once the first has closed its database.
func TestInstanceLock(t *testing.T) {
	eachDatabase(t, func(t *testing.T, flags []string) {
		first := openTestDatabase(t, flags)
		ctx := context.Background()
		if ok, err := first.lockInstance(ctx, "shop"); !ok || err != nil {
			t.Fatalf("first lock: %v, %v; want true", ok, err)
		}
		if first.dialect == sqlite {
			return // the data directory's lock, taken at open, is the proof
		}
		second, err := openDatabase(ctx, t.TempDir(), flags[1])
		if err != nil {
			t.Fatal(err)
		}
		defer second.close()
		if ok, err := second.lockInstance(ctx, "other"); !ok || err != nil {
			t.Errorf("another name: %v, %v; want true", ok, err)
		}
		third, err := openDatabase(ctx, t.TempDir(), flags[1])
		if err != nil {
			t.Fatal(err)
		}
		defer third.close()
		if ok, err := third.lockInstance(ctx, "shop"); ok || err != nil {
			t.Errorf("the same name while held: %v, %v; want false", ok, err)
		}
		if err := first.close(); err != nil {
			t.Fatal(err)
		}
		if ok, err := third.lockInstance(ctx, "shop"); !ok || err != nil {
			t.Errorf("the same name after the holder closed: %v, %v; want true", ok, err)
		}
	})
}

// Which placed orders are taken as left by a dead process: the upkeep of a
// live process never takes its own orders in flight, nor those another live
// process of the same -instance has in flight (its lock is not ours); only
// the start of the instance's owner, or SQLite's single process, takes the
// instance's young orders.
func TestResolveOrphansScope(t *testing.T) {
	eachDatabase(t, func(t *testing.T, flags []string) {
		db := openTestDatabase(t, flags)
		a := &app{cfg: config{instance: "shop"}, db: db}
		ctx := context.Background()
		now := time.Now()
		place := func(ref, instance string, placed time.Time) {
			t.Helper()
			_, err := db.ExecContext(ctx, db.q(`INSERT INTO orders (ref, state, items, work, run, instance, created, placed, updated)
				VALUES ($1, $2, '[]', '0s', 0, $3, $4, $4, $4)`), ref, statePlaced, instance, placed.UnixNano())
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			scope orphanScope
			want  int64
		}{
			// young: shop-young (ours) and other-young; stale: shop-old, other-old.
			{orphansStale, 2},
			{orphansMine, 3},
			{orphansAll, 4},
		} {
			if _, err := db.ExecContext(ctx, `DELETE FROM orders`); err != nil {
				t.Fatal(err)
			}
			place("shop-young", "shop", now)
			place("other-young", "other", now)
			place("shop-old", "shop", now.Add(-2*orphanAge))
			place("other-old", "other", now.Add(-2*orphanAge))
			n, err := a.resolveOrphans(ctx, tc.scope)
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.want {
				t.Errorf("scope %d: resolved %d orders, want %d", tc.scope, n, tc.want)
			}
			var young string
			if err := db.QueryRowContext(ctx, db.q(`SELECT state FROM orders WHERE ref = $1`), "shop-young").Scan(&young); err != nil {
				t.Fatal(err)
			}
			if wantState := map[orphanScope]string{orphansStale: statePlaced, orphansMine: stateUnconfirmed, orphansAll: stateUnconfirmed}[tc.scope]; young != wantState {
				t.Errorf("scope %d: this instance's order in flight is %s, want %s", tc.scope, young, wantState)
			}
		}
	})
}
