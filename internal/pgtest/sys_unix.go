//go:build unix && !linux

package pgtest

import "syscall"

func (s *Server) sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: s.cred}
}
