package main

import (
	"os"
	"syscall"
)

// faultEnv names a point of the order path where the process kills itself
// with SIGKILL, for the crash tests of package reliability, which cannot
// reach these instants from outside: "after-commit" (the order and its job
// committed, the answer not yet written) or "after-answer" (the answer was
// delivered, the order not yet settled). Unset, nothing happens.
const faultEnv = "LIFELINE_FAULT"

// crashAt kills the process with SIGKILL, as kill -9 would, when the
// fault point named by $LIFELINE_FAULT is point.
func (a *app) crashAt(point string) {
	if a.cfg.fault == point {
		a.log.Warn("lifeline: killing the process at a fault point ($"+faultEnv+")", "point", point)
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL cannot be caught: the process ends here
	}
}
