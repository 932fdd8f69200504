package main

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync/atomic"
)

// SQLite compiles every statement it runs. The pure Go SQLite's compiler
// is slow (River's statement that completes a job takes about a
// millisecond to compile and microseconds to run), and database/sql
// compiles every statement again on each call, so on SQLite most of the
// server's time went to compiling the same few dozen statements, on the one
// connection every write waits for. A stmtCacheConnector keeps them
// compiled, per connection: the driver's own prepared statement, which it
// resets after each use.

// stmtCacheSize bounds a connection's cache: the server and River run a
// few dozen distinct statements; one built from data would not fill memory.
// A full cache drops its least recently used statement for a new one, so
// that statements first run after many one-off ones (a migration's, a
// list's of a new length) are kept compiled too.
const stmtCacheSize = 256

// stmtCounts counts the statements a database ran and how many of them had
// to be compiled.
type stmtCounts struct {
	run, compiled atomic.Int64
}

// stmtCacheConnector opens connections that keep their statements compiled.
type stmtCacheConnector struct {
	driver.Connector
	counts *stmtCounts
}

// Connect opens a connection of the wrapped connector, with an empty cache.
func (c *stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	for _, ok := range []bool{
		implements[driver.ConnPrepareContext](conn), implements[driver.ConnBeginTx](conn),
		implements[driver.ExecerContext](conn), implements[driver.QueryerContext](conn),
	} {
		if !ok {
			return nil, errors.Join(fmt.Errorf("statement cache: the SQLite driver's connection %T lacks a context method", conn), conn.Close())
		}
	}
	return &stmtCacheConn{Conn: conn, stmts: make(map[string]*cachedStmt), counts: c.counts, lru: list.New()}, nil
}

func implements[T any](v any) bool {
	_, ok := v.(T)
	return ok
}

// stmtCacheConn is one connection and its compiled statements. database/sql
// uses a connection from one goroutine at a time, so it needs no lock.
type stmtCacheConn struct {
	driver.Conn
	stmts  map[string]*cachedStmt
	lru    *list.List // of *cachedStmt, the most recently used first
	counts *stmtCounts
}

// cachedStmt is a compiled statement; busy while rows it returned are open,
// when the same statement run again gets a statement of its own.
type cachedStmt struct {
	driver.Stmt
	query string
	elem  *list.Element // in stmtCacheConn.lru
	busy  bool
}

// stmt returns query's compiled statement, compiling it on first use, or
// nil when it must not be reused now: its rows are open, or the cache is
// full of statements whose rows are open.
func (c *stmtCacheConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	c.counts.run.Add(1)
	if s, ok := c.stmts[query]; ok {
		c.lru.MoveToFront(s.elem)
		if s.busy {
			c.counts.compiled.Add(1)
			return nil, nil
		}
		return s, nil
	}
	c.counts.compiled.Add(1)
	if len(c.stmts) >= stmtCacheSize && !c.evict() {
		return nil, nil
	}
	ds, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s := &cachedStmt{Stmt: ds, query: query}
	s.elem = c.lru.PushFront(s)
	c.stmts[query] = s
	return s, nil
}

// evict closes the least recently used statement whose rows are not open,
// and reports whether there was one. The statement is gone either way: an
// error closing it (SQLite's finalize repeats the error of its last run)
// concerns no caller.
func (c *stmtCacheConn) evict() bool {
	for e := c.lru.Back(); e != nil; e = e.Prev() {
		s := e.Value.(*cachedStmt)
		if s.busy {
			continue
		}
		c.lru.Remove(e)
		delete(c.stmts, s.query)
		_ = s.Close()
		return true
	}
	return false
}

// ExecContext runs query with its compiled statement.
func (c *stmtCacheConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
	}
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

// QueryContext runs query with its compiled statement, which stays busy
// until the rows are closed.
func (c *stmtCacheConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	}
	rows, err := s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	s.busy = true
	return &cachedRows{Rows: rows, stmt: s}, nil
}

// PrepareContext prepares query for database/sql's own statements, outside
// the cache.
func (c *stmtCacheConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

// BeginTx begins a transaction on the connection.
func (c *stmtCacheConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

// Ping checks the connection, when the driver can.
func (c *stmtCacheConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// ResetSession is the driver's, when it has one.
func (c *stmtCacheConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

// IsValid is the driver's, when it has one.
func (c *stmtCacheConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// Close closes the compiled statements, then the connection.
func (c *stmtCacheConn) Close() error {
	var errs []error
	for q, s := range c.stmts {
		errs = append(errs, s.Close())
		delete(c.stmts, q)
	}
	c.lru.Init()
	errs = append(errs, c.Conn.Close())
	return errors.Join(errs...)
}

// cachedRows are the rows of a cached statement, which is free again once
// they are closed.
type cachedRows struct {
	driver.Rows
	stmt   *cachedStmt
	closed bool
}

// Close closes the rows and frees their statement.
func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if !r.closed {
		r.closed = true
		r.stmt.busy = false
	}
	return err
}
