package phpfpm

import "syscall"

// procAttr puts a server in a process group of its own, so that Close can
// reach its workers, and has the kernel send it SIGTERM if the process that
// started it dies (a test binary killed by its -timeout), so that no server
// outlives its test.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
