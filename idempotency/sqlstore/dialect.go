package sqlstore

import (
	"fmt"
	"strings"
)

// Dialect is the SQL database a [Store] talks to.
type Dialect uint8

// The dialects a [Store] speaks.
const (
	// SQLite, 3.35 or later (for RETURNING), as modernc.org/sqlite
	// provides; see the package documentation for the connection settings.
	SQLite Dialect = iota + 1
	// Postgres is PostgreSQL 13 or later, through a database/sql driver
	// such as github.com/jackc/pgx/v5/stdlib.
	Postgres
)

// String returns "sqlite" or "postgres".
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return fmt.Sprintf("Dialect(%d)", uint8(d))
}

// queries are a Store's statements, for its dialect and table.
type queries struct {
	schema     []string
	reserve    string
	lookup     string
	renew      string
	complete   string
	completeTx string
	release    string
	sweep      string
}

// newQueries writes the statements for dialect d and table t. They are
// written once with PostgreSQL's $n placeholders and the token {now}, the
// database's clock in Unix milliseconds.
func newQueries(d Dialect, t string) queries {
	blob, now := "BYTEA", "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint"
	if d == SQLite {
		blob, now = "BLOB", "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
	}
	q := queries{
		schema: []string{
			`CREATE TABLE IF NOT EXISTS ` + t + ` (
	idem_key    ` + blob + ` PRIMARY KEY,
	fingerprint TEXT NOT NULL,
	token       TEXT,
	record      ` + blob + `,
	expires_at  BIGINT NOT NULL
)`,
			`CREATE INDEX IF NOT EXISTS ` + t + `_expires ON ` + t + ` (expires_at)`,
		},
		// A free or expired key is taken in one statement; a live entry
		// makes it return no row, and lookup tells what it is.
		reserve: `INSERT INTO ` + t + ` (idem_key, fingerprint, token, record, expires_at)
VALUES ($1, $2, $3, NULL, {now} + $4)
ON CONFLICT (idem_key) DO UPDATE SET fingerprint = excluded.fingerprint, token = excluded.token,
	record = NULL, expires_at = excluded.expires_at
WHERE ` + t + `.expires_at <= {now}
RETURNING 1`,
		lookup:   `SELECT fingerprint, record, expires_at - {now} FROM ` + t + ` WHERE idem_key = $1`,
		renew:    `UPDATE ` + t + ` SET expires_at = {now} + $3 WHERE idem_key = $1 AND token = $2 AND expires_at > {now}`,
		complete: `UPDATE ` + t + ` SET token = NULL, record = $3, expires_at = {now} + $4 WHERE idem_key = $1 AND token = $2 AND expires_at > {now}`,
		// In the handler's transaction the token alone decides: a run that
		// took over the key has another one, and the row stays locked
		// until the transaction ends.
		completeTx: `UPDATE ` + t + ` SET token = NULL, record = $3, expires_at = {now} + $4 WHERE idem_key = $1 AND token = $2`,
		release:    `DELETE FROM ` + t + ` WHERE idem_key = $1 AND token = $2 AND expires_at > {now}`,
		sweep:      `DELETE FROM ` + t + ` WHERE idem_key IN (SELECT idem_key FROM ` + t + ` WHERE expires_at <= {now} LIMIT 1000)`,
	}
	fix := func(s string) string {
		s = strings.ReplaceAll(s, "{now}", now)
		if d == SQLite {
			s = strings.ReplaceAll(s, "$", "?") // SQLite's numbered parameters are ?n
		}
		return s
	}
	for i := range q.schema {
		q.schema[i] = fix(q.schema[i])
	}
	for _, p := range []*string{&q.reserve, &q.lookup, &q.renew, &q.complete, &q.completeTx, &q.release, &q.sweep} {
		*p = fix(*p)
	}
	return q
}
