package main

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// TestStmtCache checks that the SQLite connection compiles a statement
// once however often it runs, that a statement run again while its rows
// are open gets rows of its own, and that statements dropped from the full
// cache still run.
func TestStmtCache(t *testing.T) {
	ctx := context.Background()
	d, err := openSQLite(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.close(); err != nil {
			t.Error(err)
		}
	})
	counts := func() (run, compiled int64) { return d.stmts.run.Load(), d.stmts.compiled.Load() }
	if _, err := d.ExecContext(ctx, `CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}

	t.Run("compiled once", func(t *testing.T) {
		run0, compiled0 := counts()
		for i := range 50 {
			if _, err := d.ExecContext(ctx, `INSERT INTO t (x) VALUES (?1)`, i); err != nil {
				t.Fatal(err)
			}
		}
		var sum int
		for range 50 {
			if err := d.QueryRowContext(ctx, `SELECT sum(x) FROM t`).Scan(&sum); err != nil {
				t.Fatal(err)
			}
		}
		run, compiled := counts()
		if run-run0 != 100 || compiled-compiled0 != 2 {
			t.Errorf("100 statements of 2 kinds: %d run, %d compiled; want 100, 2", run-run0, compiled-compiled0)
		}
		if sum != 49*50/2 {
			t.Errorf("sum %d, want %d", sum, 49*50/2)
		}
	})

	t.Run("same statement while its rows are open", func(t *testing.T) {
		err := d.inTx(ctx, func(tx *sql.Tx) error {
			const q = `SELECT x FROM t WHERE x < ?1 ORDER BY x`
			outer, err := tx.QueryContext(ctx, q, 3)
			if err != nil {
				return err
			}
			defer outer.Close()
			var pairs []string
			for outer.Next() {
				var x int
				if err := outer.Scan(&x); err != nil {
					return err
				}
				inner, err := tx.QueryContext(ctx, q, x)
				if err != nil {
					return err
				}
				for inner.Next() {
					var y int
					if err := inner.Scan(&y); err != nil {
						inner.Close()
						return err
					}
					pairs = append(pairs, fmt.Sprint(x, y))
				}
				if err := inner.Close(); err != nil {
					return err
				}
			}
			if err := outer.Err(); err != nil {
				return err
			}
			if got, want := fmt.Sprint(pairs), "[1 0 2 0 2 1]"; got != want {
				t.Errorf("nested rows %s, want %s", got, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("past the bound", func(t *testing.T) {
		for i := range stmtCacheSize + 10 {
			var v int
			if err := d.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d`, i)).Scan(&v); err != nil {
				t.Fatal(err)
			}
			if v != i {
				t.Fatalf("SELECT %d = %d", i, v)
			}
		}
		// The first ones were dropped for the last ones.
		run0, compiled0 := counts()
		var v int
		if err := d.QueryRowContext(ctx, `SELECT 5`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if run, compiled := counts(); run-run0 != 1 || compiled-compiled0 != 1 || v != 5 {
			t.Errorf("a statement dropped from the cache: %d run, %d compiled, value %d; want 1, 1, 5", run-run0, compiled-compiled0, v)
		}
	})
}
