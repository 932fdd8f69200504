//go:build linux

package pgtest

import "syscall"

// sysProcAttr runs a child as s.cred (when the test runs as root) and makes
// the kernel kill it when the test binary dies, so a killed test leaves no
// server behind (the postmaster's own children exit when it dies).
func (s *Server) sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL}
}
