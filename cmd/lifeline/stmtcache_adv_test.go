package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// openTestSQLite opens a fresh data directory's database, the cached
// connection the server uses, closed when the test ends.
func openTestSQLite(t *testing.T) *database {
	t.Helper()
	d, err := openSQLite(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.close(); err != nil {
			t.Error(err)
		}
	})
	return d
}

func mustExec(t *testing.T, d *database, q string, args ...any) {
	t.Helper()
	if _, err := d.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestStmtCacheAdversary runs, on the server's cached SQLite connection,
// what a compiled statement kept across calls could get wrong where
// database/sql compiling each call again cannot: the schema changed under
// it, a failure in the middle of it, a context that ends while it runs, a
// transaction rolled back around it, a VACUUM. Each case checks the answer
// SQLite gives without a cache.
func TestStmtCacheAdversary(t *testing.T) {
	ctx := context.Background()

	t.Run("columns added after compiling", func(t *testing.T) {
		d := openTestSQLite(t)
		mustExec(t, d, `CREATE TABLE t (a INTEGER)`)
		mustExec(t, d, `INSERT INTO t (a) VALUES (1)`)
		cols := func() []string {
			rows, err := d.QueryContext(ctx, `SELECT * FROM t`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			c, err := rows.Columns()
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		if got := fmt.Sprint(cols()); got != "[a]" {
			t.Fatalf("columns %s, want [a]", got)
		}
		mustExec(t, d, `ALTER TABLE t ADD COLUMN b TEXT NOT NULL DEFAULT 'x'`)
		if got := fmt.Sprint(cols()); got != "[a b]" {
			t.Errorf("after ALTER TABLE ADD COLUMN: columns %s, want [a b]", got)
		}
	})

	t.Run("table dropped and created again", func(t *testing.T) {
		d := openTestSQLite(t)
		mustExec(t, d, `CREATE TABLE t (a INTEGER, b INTEGER)`)
		const ins = `INSERT INTO t (a) VALUES (?1)`
		mustExec(t, d, ins, 1)
		mustExec(t, d, `DROP TABLE t`)
		if _, err := d.ExecContext(ctx, ins, 2); err == nil || !strings.Contains(err.Error(), "no such table") {
			t.Errorf("insert into a dropped table: %v, want no such table", err)
		}
		mustExec(t, d, `CREATE TABLE t (z TEXT, a INTEGER)`)
		mustExec(t, d, ins, 3)
		var z sql.NullString
		var a int
		if err := d.QueryRowContext(ctx, `SELECT z, a FROM t`).Scan(&z, &a); err != nil {
			t.Fatal(err)
		}
		if z.Valid || a != 3 {
			t.Errorf("row after the table was made again: z %v a %d, want NULL 3", z, a)
		}
	})

	t.Run("failure then reuse", func(t *testing.T) {
		d := openTestSQLite(t)
		mustExec(t, d, `CREATE TABLE t (a INTEGER PRIMARY KEY)`)
		const ins = `INSERT INTO t (a) VALUES (?1)`
		mustExec(t, d, ins, 1)
		if _, err := d.ExecContext(ctx, ins, 1); err == nil || !strings.Contains(err.Error(), "UNIQUE") {
			t.Fatalf("duplicate key: %v, want a UNIQUE failure", err)
		}
		mustExec(t, d, ins, 2)
		var n int
		if err := d.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 2 {
			t.Errorf("rows %d (%v), want 2", n, err)
		}
		// A failure while stepping through rows (an overflow in the
		// middle of the result), then the same query without it.
		const q = `SELECT CASE WHEN a = ?1 THEN abs(-9223372036854775808) ELSE a END FROM t ORDER BY a`
		rows, err := d.QueryContext(ctx, q, 2)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
		}
		if rows.Err() == nil {
			t.Error("abs(minimum integer): no error")
		}
		rows.Close()
		var got []int
		rows, err = d.QueryContext(ctx, q, 0)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			got = append(got, v)
		}
		if err := rows.Close(); err != nil || rows.Err() != nil || fmt.Sprint(got) != "[1 2]" {
			t.Errorf("after the failure: %v (%v, %v), want [1 2]", got, rows.Err(), err)
		}
	})

	t.Run("context ended mid-query", func(t *testing.T) {
		d := openTestSQLite(t)
		// Long enough to be interrupted: counts to a billion.
		const q = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < ?1) SELECT count(*) FROM c`
		for range 3 {
			cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			var n int
			err := d.QueryRowContext(cctx, q, 1_000_000_000).Scan(&n)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("interrupted query: %v, want context.DeadlineExceeded", err)
			}
			n = 0
			if err := d.QueryRowContext(ctx, q, 1000).Scan(&n); err != nil || n != 1000 {
				t.Fatalf("the same query after the interrupt: %d, %v; want 1000", n, err)
			}
			if _, err := d.ExecContext(cctx, q, 10); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("exec with an ended context: %v", err)
			}
		}
		// Rows left open when their context ends: database/sql closes them.
		cctx, cancel := context.WithCancel(ctx)
		rows, err := d.QueryContext(cctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < ?1) SELECT x FROM c`, 100)
		if err != nil {
			t.Fatal(err)
		}
		rows.Next()
		cancel()
		for rows.Next() {
		}
		rows.Close()
		var n int
		if err := d.QueryRowContext(ctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < ?1) SELECT x FROM c`, 100).Scan(&n); err != nil || n != 1 {
			t.Errorf("after rows whose context ended: %d, %v; want 1", n, err)
		}
	})

	t.Run("rolled back", func(t *testing.T) {
		d := openTestSQLite(t)
		mustExec(t, d, `CREATE TABLE t (a INTEGER)`)
		const ins = `INSERT INTO t (a) VALUES (?1) RETURNING a`
		errRollback := errors.New("roll back")
		for i := range 3 {
			err := d.inTx(ctx, func(tx *sql.Tx) error {
				var a int
				if err := tx.QueryRowContext(ctx, ins, i).Scan(&a); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, ins, i+10); err != nil {
					return err
				}
				if i%2 == 0 {
					return errRollback
				}
				return nil
			})
			if err != nil && !errors.Is(err, errRollback) {
				t.Fatal(err)
			}
		}
		var got string
		if err := d.QueryRowContext(ctx, `SELECT group_concat(a) FROM (SELECT a FROM t ORDER BY a)`).Scan(&got); err != nil || got != "1,11" {
			t.Errorf("rows %q (%v), want 1,11", got, err)
		}
	})

	t.Run("vacuum with statements cached", func(t *testing.T) {
		// VACUUM fails while a statement is active: the cached ones,
		// reset after each use, are not.
		d := openTestSQLite(t)
		mustExec(t, d, `CREATE TABLE t (a INTEGER)`)
		mustExec(t, d, `INSERT INTO t (a) VALUES (?1)`, 1)
		var n int
		if err := d.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		mustExec(t, d, `VACUUM`)
		mustExec(t, d, `VACUUM`)
	})

	t.Run("script of two statements", func(t *testing.T) {
		d := openTestSQLite(t)
		mustExec(t, d, `CREATE TABLE t (a INTEGER)`)
		for range 3 {
			mustExec(t, d, `INSERT INTO t (a) VALUES (1); INSERT INTO t (a) VALUES (2)`)
		}
		var n int
		if err := d.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 6 {
			t.Errorf("rows %d (%v), want 6", n, err)
		}
	})

	t.Run("exec of a statement whose rows are open", func(t *testing.T) {
		d := openTestSQLite(t)
		mustExec(t, d, `CREATE TABLE t (a INTEGER)`)
		const q = `INSERT INTO t (a) VALUES (?1) RETURNING a`
		err := d.inTx(ctx, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, q, 1)
			if err != nil {
				return err
			}
			defer rows.Close()
			if _, err := tx.ExecContext(ctx, q, 2); err != nil {
				return err
			}
			for rows.Next() {
			}
			return rows.Close()
		})
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := d.QueryRowContext(ctx, `SELECT group_concat(a) FROM (SELECT a FROM t ORDER BY a)`).Scan(&got); err != nil || got != "1,2" {
			t.Errorf("rows %q (%v), want 1,2", got, err)
		}
	})
}

// TestStmtCacheEviction checks that a full cache keeps the statements in
// use: a statement first run after the cache was filled by one-off
// statements (a migration's, a listing of a new length) is compiled once,
// not at every run; and that a statement whose rows are open is never the
// one dropped, so its rows read on.
func TestStmtCacheEviction(t *testing.T) {
	ctx := context.Background()
	d := openTestSQLite(t)
	mustExec(t, d, `CREATE TABLE t (a INTEGER)`)
	for i := range 5 {
		mustExec(t, d, `INSERT INTO t (a) VALUES (?1)`, i)
	}
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		// The oldest statement of the cache, its rows open throughout.
		rows, err := tx.QueryContext(ctx, `SELECT a FROM t ORDER BY a`)
		if err != nil {
			return err
		}
		defer rows.Close()
		var got []int
		next := func() {
			if !rows.Next() {
				t.Fatalf("rows ended early: %v", rows.Err())
			}
			var a int
			if err := rows.Scan(&a); err != nil {
				t.Fatal(err)
			}
			got = append(got, a)
		}
		next()
		for i := range 2 * stmtCacheSize {
			var v int
			if err := tx.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d`, i)).Scan(&v); err != nil || v != i {
				return fmt.Errorf("SELECT %d = %d: %w", i, v, err)
			}
		}
		run0, compiled0 := d.stmts.run.Load(), d.stmts.compiled.Load()
		for range 20 {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM t WHERE a >= ?1`, 2).Scan(&n); err != nil || n != 3 {
				return fmt.Errorf("count %d: %w", n, err)
			}
		}
		if run, compiled := d.stmts.run.Load()-run0, d.stmts.compiled.Load()-compiled0; run != 20 || compiled != 1 {
			t.Errorf("a statement run 20 times once the cache was full: %d run, %d compiled; want 20, 1", run, compiled)
		}
		for range 4 {
			next()
		}
		if rows.Next() {
			t.Error("a sixth row")
		}
		if fmt.Sprint(got) != "[0 1 2 3 4]" {
			t.Errorf("rows of the oldest statement %v, want [0 1 2 3 4]", got)
		}
		return rows.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}
