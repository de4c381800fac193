//go:build !linux

package janusrun

import (
	"os"
	"syscall"
)

// sysProcAttr leaves the process as it is; only Linux gets a process group
// and a parent-death signal.
func sysProcAttr() *syscall.SysProcAttr { return nil }

func terminate(p *os.Process) error { return p.Signal(os.Interrupt) }

func kill(p *os.Process) error { return p.Kill() }

// listenersOwnedBy cannot look into /proc here; the HTTP and WebSocket
// probes have to do.
func listenersOwnedBy(pid int, ports []int) error { return nil }
