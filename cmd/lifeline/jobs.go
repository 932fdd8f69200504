package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// The work the demos hand over after their answer runs as durable River
// jobs (github.com/riverqueue/river), inserted in the same transaction as
// the data they belong to: a job is never lost once the client has its
// answer, and runs (at once, in this process, or after a crash at the next
// start or on another instance sharing the PostgreSQL database) until it
// completes. River's retries, uniqueness and job cleaner are used as they
// are.

// emailArgs is the job of an order: it "sends the confirmation email",
// which is a row of the emails table written in the same transaction that
// completes the job, so it happens once per order whatever instant the
// process dies at.
type emailArgs struct {
	Ref  string        `json:"ref" river:"unique"`
	Work time.Duration `json:"work"` // how long sending takes
}

// Kind is the job kind River stores.
func (emailArgs) Kind() string { return "email" }

// InsertOpts makes the job unique by its ref among the jobs not yet
// completed: River's uniqueness, not the server's.
func (emailArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// workArgs is the background work of /demo/finish and /demo/close-early.
type workArgs struct {
	Work time.Duration `json:"work"`
	Run  uint64        `json:"run"` // the run that enqueued it
}

// finishArgs is the job of /demo/finish.
type finishArgs struct{ workArgs }

// Kind is the job kind River stores.
func (finishArgs) Kind() string { return "finish" }

// closeEarlyArgs is the job of /demo/close-early.
type closeEarlyArgs struct{ workArgs }

// Kind is the job kind River stores.
func (closeEarlyArgs) Kind() string { return "close-early" }

// queueConfig is how the jobs run: the number working at once, each job's
// time bound, and when a job whose process died is retried.
type queueConfig struct {
	maxWorkers int           // jobs working at once in this process (-max-jobs)
	jobTimeout time.Duration // a job's context is cancelled after it (-job-timeout)
	rescue     time.Duration // a job running longer is taken as orphaned and retried
	poll       time.Duration // the SQLite driver's fallback poll
	stopAfter  time.Duration // soft-stop bound at the drain (the drain's length)
}

// queue is the River client of the server and what the handlers need of it.
type queue struct {
	client     *river.Client[*sql.Tx]
	completeTx func(ctx context.Context, tx *sql.Tx, job *river.Job[emailArgs]) error
	db         *database
	log        *slog.Logger
	instance   string // -instance: River's client IDs are instance + "-" + a random part
}

// newDriver returns River's driver for db: riversqlite on SQLite;
// database/sql with a pgx LISTEN connection (riverpgxv5) on PostgreSQL.
func newDriver(db *database) riverdriver.Driver[*sql.Tx] {
	if db.dialect == postgres {
		return riverdatabasesql.NewWithPgxListener(db.DB, db.pgPool)
	}
	return riversqlite.New(db.DB)
}

// migrateRiver creates or upgrades River's tables.
func migrateRiver(ctx context.Context, db *database) error {
	m, err := rivermigrate.New(newDriver(db), nil)
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

// newQueue builds the River client; the workers call into a. It does not
// start it.
func newQueue(a *app, cfg queueConfig) (*queue, error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(a.sendEmail))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[finishArgs]) error {
		return pause(ctx, j.Args.Work)
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[closeEarlyArgs]) error {
		return pause(ctx, j.Args.Work)
	}))
	rc := &river.Config{
		ID:                   a.cfg.instance + "-" + newRef()[2:],
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.maxWorkers}},
		Workers:              workers,
		JobTimeout:           cfg.jobTimeout,
		RescueStuckJobsAfter: cfg.rescue,
		FetchCooldown:        10 * time.Millisecond,
		FetchPollInterval:    cfg.poll,
		SoftStopTimeout:      cfg.stopAfter,
		Logger:               a.log.With("component", "river"),
		ErrorHandler:         &jobErrors{log: a.log},
	}
	client, err := river.NewClient(newDriver(a.db), rc)
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	q := &queue{client: client, db: a.db, log: a.log, instance: a.cfg.instance}
	if a.db.dialect == postgres {
		q.completeTx = func(ctx context.Context, tx *sql.Tx, j *river.Job[emailArgs]) error {
			_, err := river.JobCompleteTx[*riverdatabasesql.Driver](ctx, tx, j)
			return err
		}
	} else {
		q.completeTx = func(ctx context.Context, tx *sql.Tx, j *river.Job[emailArgs]) error {
			_, err := river.JobCompleteTx[*riversqlite.Driver](ctx, tx, j)
			return err
		}
	}
	return q, nil
}

// jobErrors logs the jobs that fail; River retries them.
type jobErrors struct{ log *slog.Logger }

// HandleError logs a job's error; River schedules its retry.
func (h *jobErrors) HandleError(_ context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.log.Warn("job failed; River retries it", "job", job.ID, "kind", job.Kind, "attempt", job.Attempt, "err", err)
	return nil
}

// HandlePanic logs a job's panic; River retries it.
func (h *jobErrors) HandlePanic(_ context.Context, job *rivertype.JobRow, v any, trace string) *river.ErrorHandlerResult {
	h.log.Error("job panicked; River retries it", "job", job.ID, "kind", job.Kind, "panic", v, "trace", trace)
	return nil
}

// sendEmail is the worker of the email jobs. It works for the job's
// duration, then records the email and completes the job in one
// transaction: a process that dies before the commit leaves neither, and
// the job runs again; one that dies after it leaves both. An order has one
// email (the emails table is unique by ref): a second run of its job (one
// handed back or rescued while the first still worked, on a process cut
// off from the database) finds the email written and completes without
// writing another. It writes the emails table and River's row, not the
// order's, which the order's settle may be updating at the same moment:
// the order's emailed time is its email's.
func (a *app) sendEmail(ctx context.Context, j *river.Job[emailArgs]) error {
	if err := pause(ctx, j.Args.Work); err != nil {
		return err
	}
	return a.db.inTx(ctx, func(tx *sql.Tx) error {
		now := time.Now().UnixNano()
		res, err := tx.ExecContext(ctx, a.db.q(`INSERT INTO emails (ref, job, instance, sent) VALUES ($1, $2, $3, $4)
			ON CONFLICT (ref) DO NOTHING`), j.Args.Ref, j.ID, a.cfg.instance, now)
		if err != nil {
			return fmt.Errorf("email of order %s: %w", j.Args.Ref, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("email of order %s: %w", j.Args.Ref, err)
		} else if n == 0 {
			a.log.Warn("email already sent by another run; job completed without sending", "ref", j.Args.Ref, "job", j.ID)
		}
		if err := a.queue.completeTx(ctx, tx, j); err != nil {
			return fmt.Errorf("complete job %d: %w", j.ID, err)
		}
		return nil
	})
}

// start hands back the jobs that a process of this instance left running
// when it died (handBack), if owned (the caller holds the instance's lock,
// database.lockInstance), then starts the workers. Jobs left by other
// instances are run again once River's rescuer finds them orphaned
// (cfg.rescue after they started).
func (q *queue) start(ctx context.Context, owned bool) error {
	if owned {
		n, err := q.handBack(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			q.log.Warn("lifeline: jobs left running by a process of this instance that died, handed back", "jobs", n)
		}
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("job queue: %w", err)
	}
	return nil
}

// handBack runs again, at once, the jobs that a dead process of this
// instance left in River's running state. River would run such a job again
// only once its rescuer, which runs on the elected leader every 30 s, finds
// it running for longer than RescueStuckJobsAfter: 10 to 40 s after the
// crash. River's API changes no running job (JobRetry and JobDelete leave
// it), so each is replaced in one transaction: JobCancelTx marks it for
// cancellation (River's rescuer later finalizes it as cancelled without
// running it) and InsertTx inserts a copy of it, with its kind, arguments,
// queue, priority and tags, its remaining attempts, and "replaces": its ID
// in its metadata; its order is moved to the copy. A job whose cancellation
// was requested (one handed back already, or cancelled by an operator), or
// that had no attempt left, is left to the rescuer. It must be called with
// the instance's lock held and before the client starts: no live process
// then runs a job of this instance (on SQLite, of any instance). It returns
// how many jobs it handed back.
func (q *queue) handBack(ctx context.Context) (int, error) {
	params := river.NewJobListParams().States(rivertype.JobStateRunning).First(handBackPage)
	n := 0
	for {
		res, err := q.client.JobList(ctx, params)
		if err != nil {
			return n, fmt.Errorf("hand back jobs: %w", err)
		}
		for _, j := range res.Jobs {
			if !q.ownJob(j) || cancelRequested(j) || j.Attempt >= j.MaxAttempts {
				continue
			}
			if err := q.db.inTx(ctx, func(tx *sql.Tx) error { return q.replaceJob(ctx, tx, j) }); err != nil {
				return n, fmt.Errorf("hand back job %d: %w", j.ID, err)
			}
			n++
		}
		if len(res.Jobs) < handBackPage {
			return n, nil
		}
		params = params.After(res.LastCursor)
	}
}

// handBackPage is how many running jobs handBack reads at a time.
const handBackPage = 500

// ownJob reports whether a running job was last taken by a process of this
// instance: on SQLite every job is (the database has one process at a
// time); on PostgreSQL the client ID that attempted it last is this
// instance's name and a random part.
func (q *queue) ownJob(j *rivertype.JobRow) bool {
	if q.db.dialect == sqlite {
		return true
	}
	if len(j.AttemptedBy) == 0 {
		return false
	}
	id := j.AttemptedBy[len(j.AttemptedBy)-1]
	i := strings.LastIndexByte(id, '-')
	return i > 0 && id[:i] == q.instance
}

// cancelRequested reports whether a job's cancellation was requested: a
// job handed back already, or one cancelled by an operator. River's rescuer
// finalizes it as cancelled; it is not handed back.
func cancelRequested(j *rivertype.JobRow) bool {
	var m struct {
		CancelAttemptedAt *time.Time `json:"cancel_attempted_at"`
	}
	return json.Unmarshal(j.Metadata, &m) == nil && m.CancelAttemptedAt != nil
}

// replaceJob marks the running job j for cancellation and inserts its copy,
// in tx.
func (q *queue) replaceJob(ctx context.Context, tx *sql.Tx, j *rivertype.JobRow) error {
	row, err := q.client.JobCancelTx(ctx, tx, j.ID)
	if err != nil {
		return err
	}
	if row.State != rivertype.JobStateRunning && row.State != rivertype.JobStateCancelled {
		return nil // it ended meanwhile (completed, discarded): nothing to hand back
	}
	meta, err := json.Marshal(map[string]int64{"replaces": j.ID})
	if err != nil {
		return err
	}
	res, err := q.client.InsertTx(ctx, tx, copiedArgs{kind: j.Kind, args: j.EncodedArgs}, &river.InsertOpts{
		MaxAttempts: j.MaxAttempts - j.Attempt, Metadata: meta, Priority: j.Priority, Queue: j.Queue, Tags: j.Tags,
	})
	if err != nil {
		return err
	}
	if j.Kind == (emailArgs{}).Kind() {
		if _, err := tx.ExecContext(ctx, q.db.q(`UPDATE orders SET job = $1 WHERE job = $2`), res.Job.ID, j.ID); err != nil {
			return err
		}
	}
	q.log.Info("lifeline: job handed back", "job", j.ID, "kind", j.Kind, "copy", res.Job.ID)
	return nil
}

// copiedArgs are a stored job's kind and encoded arguments, inserted again
// as they are. Having no InsertOpts, they are not unique: the copy of an
// email job is inserted while its original still holds the unique key.
type copiedArgs struct {
	kind string
	args []byte
}

// Kind is the stored job's kind.
func (c copiedArgs) Kind() string { return c.kind }

// MarshalJSON returns the stored arguments.
func (c copiedArgs) MarshalJSON() ([]byte, error) { return c.args, nil }

// stop stops the workers gracefully: jobs still working after the soft-stop
// bound are cancelled, and River makes them available again, to run at the
// next start or on another instance. It returns when they have returned or
// ctx is done.
func (q *queue) stop(ctx context.Context) error {
	err := q.client.Stop(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("job queue stop: %w", err)
	}
	return nil
}

// jobStates are the states of River's jobs the status shows.
var jobStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateRetryable,
	rivertype.JobStateScheduled, rivertype.JobStateDiscarded, rivertype.JobStateCompleted,
	rivertype.JobStateCancelled,
}

// jobCounts returns how many jobs are in each state, from River's table
// (read only: River has no count in its API).
func (a *app) jobCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := a.db.QueryContext(ctx, `SELECT state, count(*) FROM river_job GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("job counts: %w", err)
	}
	defer rows.Close()
	out := make(map[string]int64, len(jobStates))
	for _, s := range jobStates {
		out[string(s)] = 0
	}
	for rows.Next() {
		var (
			s string
			n int64
		)
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("job counts: %w", err)
		}
		out[s] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("job counts: %w", err)
	}
	return out, nil
}
