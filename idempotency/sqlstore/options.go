package sqlstore

import (
	"fmt"
	"time"

	"github.com/lifeline-go/lifeline/idempotency"
)

// Option configures a [Store]. Options are made by the With functions of
// this package and checked once, by [New].
type Option interface {
	apply(*options)
}

// optionFunc is the Option of the With functions.
type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	table           string
	cleanupInterval time.Duration
}

func defaultOptions() options {
	return options{table: "lifeline_idempotency", cleanupInterval: time.Minute}
}

func (o *options) validate() error {
	switch {
	case !isIdentifier(o.table):
		return fmt.Errorf("sqlstore: WithTable(%q): not a plain SQL identifier (a letter or underscore, then letters, digits or underscores, at most 48 bytes): %w", o.table, idempotency.ErrInvalidOption)
	case o.cleanupInterval <= 0:
		return fmt.Errorf("sqlstore: WithCleanupInterval(%v): must be positive: %w", o.cleanupInterval, idempotency.ErrInvalidOption)
	}
	return nil
}

// WithTable sets the name of the table that holds the keys; [New] creates
// it, and an index named after it with the suffix "_expires", if they do
// not exist. The name must be a plain identifier, such as "idempotency" or
// "app_idempotency_keys". The default is "lifeline_idempotency".
func WithTable(name string) Option {
	return optionFunc(func(o *options) { o.table = name })
}

// WithCleanupInterval sets how often, at most, Reserve deletes expired rows
// (up to 1000 at a time). Expired rows are never visible, deleted or not;
// the cleanup only bounds the table. The default is one minute.
func WithCleanupInterval(d time.Duration) Option {
	return optionFunc(func(o *options) { o.cleanupInterval = d })
}

// isIdentifier reports whether s can be put into SQL as a table name
// without quoting on both SQLite and PostgreSQL.
func isIdentifier(s string) bool {
	if s == "" || len(s) > 48 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
