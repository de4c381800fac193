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

// sysProcAttr puts Janus in its own process group, so signals reach all of
// it, and has the kernel kill it if the thread that started it exits (the
// test binary dying, say, without running its cleanups).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func terminate(p *os.Process) error { return signalGroup(p, syscall.SIGTERM) }

func kill(p *os.Process) error { return signalGroup(p, syscall.SIGKILL) }

func signalGroup(p *os.Process, sig syscall.Signal) error {
	if err := syscall.Kill(-p.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("send %v to process group %d: %w", sig, p.Pid, err)
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
