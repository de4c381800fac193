//go:build unix

package tap

import (
	"errors"
	"net"
	"syscall"
)

// open says whether an idle connection is still open: a peek that does not
// wait finds nothing to read (EAGAIN). End of file means the gateway closed
// it; bytes arriving on an idle connection mean it is out of step.
func open(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK)
		return true // never wait for data
	})
	return err == nil && alive
}
