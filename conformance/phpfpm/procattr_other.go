//go:build unix && !linux

package phpfpm

import "syscall"

// procAttr puts a server in a process group of its own, so that Close can
// reach its workers.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
