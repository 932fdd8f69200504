//go:build !linux

package lifeline

import (
	"log/slog"
	"net"
	"time"
)

// detector does nothing outside Linux: the request context is the only
// signal that the client left.
type detector struct{}

func (d *detector) configure(time.Duration)                                {}
func (d *detector) watch(net.Conn, *slog.Logger, time.Duration) *connWatch { return nil }
func (d *detector) unwatch(net.Conn, bool)                                 {}
func (d *detector) forget(*connWatch)                                      {}
func (d *detector) activate(*connWatch)                                    {}
func (d *detector) deactivate(*connWatch)                                  {}
func (d *detector) stop()                                                  {}

func (cw *connWatch) classify() Cause { return CauseClosed }

func (cw *connWatch) cut() {}

func (cw *connWatch) control(func(fd uintptr)) bool { return false }

func (d *detector) lookup(net.Conn) *connWatch { return nil }
