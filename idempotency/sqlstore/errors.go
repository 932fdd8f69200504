package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/lifeline-go/lifeline/idempotency"
)

// wrap classifies a database error: a cancelled call stays what it is;
// errors that say the database cannot serve now (no connection, a broken
// one, a server shutting down or out of resources, SQLite's busy or locked
// database) match [idempotency.ErrStoreUnavailable]; others (a bug, a
// constraint) are reported as they are.
func wrap(ctx context.Context, op, key string, err error) error {
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() != nil,
		errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("sqlstore: %s %q: %w", op, key, err)
	case unavailable(err):
		return fmt.Errorf("sqlstore: %s %q: %w: %w", op, key, idempotency.ErrStoreUnavailable, err)
	}
	return fmt.Errorf("sqlstore: %s %q: %w", op, key, err)
}

func unavailable(err error) bool {
	var netErr net.Error
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.As(err, &netErr) {
		return true
	}
	// PostgreSQL (pgconn.PgError): connection exceptions (class 08),
	// insufficient resources (53), operator intervention (57: shutdown,
	// cannot connect now).
	var pgErr interface{ SQLState() string }
	if errors.As(err, &pgErr) {
		switch st := pgErr.SQLState(); {
		case strings.HasPrefix(st, "08"), strings.HasPrefix(st, "53"), strings.HasPrefix(st, "57"):
			return true
		}
		return false
	}
	// SQLite (modernc.org/sqlite's *Error): SQLITE_BUSY (5) and
	// SQLITE_LOCKED (6), with their extended codes.
	var liteErr interface{ Code() int }
	if errors.As(err, &liteErr) {
		switch liteErr.Code() & 0xff {
		case 5, 6:
			return true
		}
	}
	return false
}
