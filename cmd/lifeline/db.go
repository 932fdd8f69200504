package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	msqlite "modernc.org/sqlite" // pure Go
)

// The reference server keeps everything (orders, emails, sessions, idempotency
// records and River's jobs) in one database: by default a SQLite file in the
// data directory (-data), in WAL mode; with -database or $LIFELINE_DATABASE_URL
// a PostgreSQL database, which several instances may share.
const (
	sqliteFile  = "lifeline.sqlite"
	lockFile    = "lifeline.lock"
	databaseEnv = "LIFELINE_DATABASE_URL"
)

// pgMaxConns is the PostgreSQL pool's size unless the URL sets
// pool_max_conns. pgx's default, four on a machine of up to four cores, is
// too few for this server: River keeps one for LISTEN, and every order, its
// settle, each working job and River's fetches and completions share the
// rest, so orders queued for a connection while PostgreSQL sat idle.
// Three instances at 16 stay well below PostgreSQL's default
// max_connections of 100.
const pgMaxConns = 16

// sqliteBusyTimeout is how long a SQLite statement waits for a lock that
// another connection (a tool, a test holding the file) has.
const sqliteBusyTimeout = 10 * time.Second

var errDataDirBusy = errors.New("data directory in use by another process")

// dialect is the SQL flavour of the database: "sqlite" or "postgres".
type dialect string

const (
	sqlite   dialect = "sqlite"
	postgres dialect = "postgres"
)

// database is the server's one database, with the few differences between
// the two dialects kept here.
type database struct {
	*sql.DB
	dialect dialect
	pgPool  *pgxpool.Pool // PostgreSQL: River's LISTEN connection comes from it
	owner   *pgx.Conn     // PostgreSQL: holds the -instance's advisory lock (lockInstance)
	lock    *os.File      // SQLite: the data directory's lock, held while open
	where   string        // for logs: the file, or the URL without its password
	stmts   *stmtCounts   // SQLite: the statements run and compiled
}

// defaultDataDir returns where the database goes when -data is not given: a
// directory under the user's cache directory, or under the temporary
// directory on a machine without one, so the server runs with no setup.
func defaultDataDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "lifeline")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("lifeline-%d", os.Getuid()))
}

// openDatabase opens PostgreSQL at url, or, when url is empty, the SQLite
// file in dir (created if needed, with dir), and creates the server's tables.
func openDatabase(ctx context.Context, dir, url string) (*database, error) {
	var (
		d   *database
		err error
	)
	if url != "" {
		d, err = openPostgres(ctx, url)
	} else {
		d, err = openSQLite(dir)
	}
	if err != nil {
		return nil, err
	}
	if err := d.migrate(ctx); err != nil {
		return nil, errors.Join(err, d.close())
	}
	return d, nil
}

// openSQLite opens dir's SQLite file. One process at a time may use a data
// directory: a second one fails at once with errDataDirBusy, instead of
// sharing a file whose jobs it would take for a dead process's.
func openSQLite(dir string) (*database, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("lock %s: %w (another lifeline running? use -data DIR)", dir, errDataDirBusy)
	}
	path := filepath.Join(dir, sqliteFile)
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)" +
		fmt.Sprintf("&_pragma=busy_timeout(%d)&_txlock=immediate", sqliteBusyTimeout.Milliseconds())
	connector, err := msqlite.NewConnector(dsn)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	counts := &stmtCounts{}
	db := sql.OpenDB(&stmtCacheConnector{Connector: connector, counts: counts})
	// SQLite has one writer at a time; one connection, as River's SQLite
	// driver recommends, queues the server's statements instead of failing
	// them with SQLITE_BUSY. Every transaction of the server is short.
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		db.Close()
		lock.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &database{DB: db, dialect: sqlite, lock: lock, where: path, stmts: counts}, nil
}

// openPostgres connects to the PostgreSQL database at url.
func openPostgres(ctx context.Context, url string) (*database, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("-database: %w", err)
	}
	where := fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = pgMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", where, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect %s: %w", where, err)
	}
	return &database{DB: stdlib.OpenDBFromPool(pool), dialect: postgres, pgPool: pool, where: where}, nil
}

// logStatements logs how many statements the server and River ran on
// SQLite and how many of them had to be compiled (the rest ran compiled
// statements of the connection's cache), for the throughput test's
// breakdown.
func (d *database) logStatements(log *slog.Logger) {
	if d.stmts == nil {
		return
	}
	log.Info("database statements", "run", d.stmts.run.Load(), "compiled", d.stmts.compiled.Load())
}

// instanceLockWait bounds how long lockInstance retries a lock held by
// another session: the session of a process killed a moment ago ends as
// soon as PostgreSQL reads the closed socket.
const instanceLockWait = 3 * time.Second

// lockInstance reports whether no other live process runs under the name
// instance on this database, so that what a process of that name left
// running belongs to a process that died. On SQLite the data directory's
// lock, taken at open, proves it: one process at a time uses the file. On
// PostgreSQL it takes a session advisory lock on the name, on a connection
// of its own held until close; it returns false, and no error, when
// another session holds the lock past instanceLockWait (two instances
// given one name). Call it once, before the job workers start.
func (d *database) lockInstance(ctx context.Context, instance string) (bool, error) {
	if d.dialect == sqlite {
		return true, nil
	}
	pc, err := d.pgPool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("instance lock: %w", err)
	}
	conn := pc.Hijack() // the lock lives as long as this connection, outside the pool
	ctx, cancel := context.WithTimeout(ctx, instanceLockWait)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		var got bool
		err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, "lifeline-instance:"+instance).Scan(&got)
		switch {
		case err == nil && got:
			d.owner = conn
			return true, nil
		case err != nil && ctx.Err() == nil:
			return false, errors.Join(fmt.Errorf("instance lock: %w", err), conn.Close(context.WithoutCancel(ctx)))
		}
		select {
		case <-ctx.Done():
			return false, conn.Close(context.WithoutCancel(ctx))
		case <-t.C:
		}
	}
}

// close closes the database; the River client must have stopped.
func (d *database) close() error {
	var err error
	if d.owner != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = d.owner.Close(ctx) // ends the session: the instance's lock goes with it
		cancel()
		d.owner = nil
	}
	err = errors.Join(err, d.DB.Close())
	if d.pgPool != nil {
		d.pgPool.Close()
	}
	if d.lock != nil {
		err = errors.Join(err, d.lock.Close())
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", d.where, err)
	}
	return nil
}

var placeholder = regexp.MustCompile(`\$([0-9]+)`)

// q rewrites a statement written with PostgreSQL's $1 placeholders for the
// database's dialect (SQLite's ?1).
func (d *database) q(stmt string) string {
	if d.dialect == postgres {
		return stmt
	}
	return placeholder.ReplaceAllString(stmt, "?$1")
}

// schema is the server's own tables. River creates its tables itself
// (rivermigrate). Times are Unix nanoseconds, the same in both dialects.
const schema = `
CREATE TABLE IF NOT EXISTS orders (
	ref      TEXT PRIMARY KEY,
	state    TEXT NOT NULL,
	items    TEXT NOT NULL,
	work     TEXT NOT NULL,
	run      BIGINT NOT NULL,
	instance TEXT NOT NULL,
	status   TEXT NOT NULL DEFAULT '',
	reason   TEXT NOT NULL DEFAULT '',
	job      BIGINT NOT NULL DEFAULT 0,
	created  BIGINT NOT NULL,
	placed   BIGINT NOT NULL DEFAULT 0,
	updated  BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_state ON orders (state);
CREATE TABLE IF NOT EXISTS emails (
	id       {{serial}},
	ref      TEXT NOT NULL,
	job      BIGINT NOT NULL,
	instance TEXT NOT NULL,
	sent     BIGINT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS emails_once ON emails (ref);
DROP INDEX IF EXISTS emails_ref;
CREATE TABLE IF NOT EXISTS sessions (
	id           TEXT PRIMARY KEY,
	data         {{blob}},
	data_expires BIGINT NOT NULL DEFAULT 0,
	fence        BIGINT NOT NULL DEFAULT 0,
	nonce        TEXT NOT NULL DEFAULT '',
	lock_expires BIGINT NOT NULL DEFAULT 0
);
`

// migrate creates the server's tables and River's. On PostgreSQL the
// statements run in one transaction under an advisory lock, so that
// instances starting together do not race on IF NOT EXISTS.
func (d *database) migrate(ctx context.Context) error {
	serial, blob := "INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB"
	if d.dialect == postgres {
		serial, blob = "BIGSERIAL PRIMARY KEY", "BYTEA"
	}
	ddl := strings.NewReplacer("{{serial}}", serial, "{{blob}}", blob).Replace(schema)
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		if d.dialect == postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('lifeline-schema', 0))`); err != nil {
				return fmt.Errorf("schema lock: %w", err)
			}
		}
		for stmt := range strings.SplitSeq(ddl, ";") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("schema: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return migrateRiver(ctx, d)
}

// inTx runs f in a transaction and commits it, or rolls it back when f
// fails.
func (d *database) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := f(tx); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// ignoreDone drops sql.ErrTxDone, which Rollback returns after a failed
// commit or a cancelled context already ended the transaction.
func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// nanos and fromNanos convert the stored times.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
