//go:build !linux

package janusrun

import (
	"os"
	"syscall"
)

// childAttr leaves the child as it is; only Linux has a parent-death
// signal, and process groups are left alone elsewhere.
func childAttr(group bool) *syscall.SysProcAttr { return nil }

// terminate is the signal Stop sends first.
var terminate = os.Interrupt

// signal sends sig to p alone.
func signal(p *os.Process, group bool, sig os.Signal) error { return p.Signal(sig) }

// listenersOwnedBy cannot look into /proc here; the HTTP and WebSocket
// probes have to do.
func listenersOwnedBy(pid int, ports []int) error { return nil }
