//go:build !linux

package lifeline

import (
	"log/slog"
	"net"
)

// detector does nothing outside Linux: the request context is the only
// signal that the client left.
type detector struct{}

func (d *detector) watch(net.Conn, *slog.Logger) *connWatch { return nil }
func (d *detector) unwatch(net.Conn)                        {}
func (d *detector) stop()                                   {}

func (cw *connWatch) classify() Cause { return CauseClosed }
