package janusrun

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// childAttr has the kernel kill the child if the thread that started it
// exits, and with group makes the child lead a process group of its own.
func childAttr(group bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: group, Pdeathsig: syscall.SIGKILL}
}

// terminate is the signal Stop sends first.
const terminate = syscall.SIGTERM

// signal sends sig to p, or to the process group p leads. A process already
// gone is os.ErrProcessDone.
func signal(p *os.Process, group bool, sig os.Signal) error {
	if !group {
		return p.Signal(sig)
	}
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("signal %v is not a system signal", sig)
	}
	if err := syscall.Kill(-p.Pid, s); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return fmt.Errorf("process group %d: %w", p.Pid, err)
	}
	return nil
}

// listenersOwnedBy checks, in /proc, that each of ports has a listening TCP
// socket held by process pid.
func listenersOwnedBy(pid int, ports []int) error {
	owned, err := socketInodes(pid)
	if err != nil {
		return err
	}
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return fmt.Errorf("list listening sockets: %w", err)
	}
	defer f.Close()
	ours := make(map[int]bool)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" { // 0A is TCP_LISTEN
			continue
		}
		_, hexPort, ok := strings.Cut(fields[1], ":")
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil {
			continue
		}
		if owned[fields[9]] {
			ours[int(port)] = true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("list listening sockets: %w", err)
	}
	for _, p := range ports {
		if !ours[p] {
			return fmt.Errorf("port %d is not (yet) held by janus pid %d", p, pid)
		}
	}
	return nil
}

// socketInodes returns the inodes of the sockets process pid has open.
func socketInodes(pid int) (map[string]bool, error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list sockets of janus pid %d: %w", pid, err)
	}
	inodes := make(map[string]bool)
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if inode, ok := strings.CutPrefix(target, "socket:["); ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	return inodes, nil
}
