package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/janustap/janustap/replayer/janus/janusrun"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// stopGrace is how long a child gets after SIGTERM before SIGKILL.
const stopGrace = 10 * time.Second

// process is a child the bench started: a proxy or a NATS server. Its
// output goes to a file.
type process struct {
	name  string
	child *janusrun.Child
	out   string // file holding its stdout and stderr
}

// startProcess runs bin with args in its own process group, its output in
// dir/<name>.out; it dies with the bench (janusrun.StartChild).
func startProcess(name, dir, bin string, args ...string) (*process, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	outPath := filepath.Join(dir, name+".out")
	out, err := os.Create(outPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer out.Close() // the child has its own copy
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	c, err := janusrun.StartChild(cmd, true, nil)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return &process{name: name, child: c, out: outPath}, nil
}

// pid returns the process id.
func (p *process) pid() int { return p.child.Pid() }

// exited reports whether the process has ended.
func (p *process) exited() bool { return !p.child.Running() }

// output returns the last n lines of what the process wrote.
func (p *process) output(n int) string {
	b, err := os.ReadFile(p.out)
	if err != nil {
		return fmt.Sprintf("(no output: %v)", err)
	}
	lines := strings.SplitAfter(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}

// stop sends SIGTERM to the process group and waits for the process to
// exit, sending SIGKILL after stopGrace. Stopping a stopped process does
// nothing.
func (p *process) stop() error {
	killed, err := p.child.Stop(stopGrace)
	if err != nil {
		return fmt.Errorf("stop %s: %w", p.name, err)
	}
	if killed {
		return fmt.Errorf("%s pid %d ignored SIGTERM for %v and was killed", p.name, p.pid(), stopGrace)
	}
	return nil
}

// procUsage is what /proc says about a set of processes.
type procUsage struct {
	CPU time.Duration // user + system time
	RSS int64         // resident set now, bytes (VmRSS)
	HWM int64         // peak resident set, bytes (VmHWM)
}

// usage sums the CPU time, resident set and peak resident set of pids.
// Processes that have gone are skipped.
func usage(pids []int) (procUsage, error) {
	var u procUsage
	var firstErr error
	for _, pid := range pids {
		cpu, err := cpuTime(pid)
		if err != nil {
			firstErr = cmpOr(firstErr, err)
			continue
		}
		rss, hwm, err := memory(pid)
		if err != nil {
			firstErr = cmpOr(firstErr, err)
			continue
		}
		u.CPU += cpu
		u.RSS += rss
		u.HWM += hwm
	}
	if firstErr != nil && u == (procUsage{}) {
		return u, firstErr
	}
	return u, nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// statFields returns the fields of /proc/<pid>/stat after the command name
// (which may hold spaces): field 3 (state) is at index 0.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("read stat of pid %d: no command name", pid)
	}
	return strings.Fields(string(b[i+1:])), nil
}

// cpuTime returns utime+stime of pid, all its threads included.
func cpuTime(pid int) (time.Duration, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	// utime and stime are fields 14 and 15: indexes 11 and 12 here.
	if len(f) < 13 {
		return 0, fmt.Errorf("read stat of pid %d: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// memory returns VmRSS and VmHWM of pid in bytes.
func memory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	for line := range strings.Lines(string(b)) {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("read %s of pid %d: %w", key, pid, err)
		}
		if key == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm, nil
}

// children returns the pids whose parent is pid, from /proc.
func children(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := statFields(child)
		if err != nil || len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// findProcess returns the pid of the process whose command line contains
// s, or 0.
func findProcess(s string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(s)) {
			return pid
		}
	}
	return 0
}

// RaiseFileLimit raises the soft and, when allowed (CAP_SYS_RESOURCE), the
// hard limit of open files of this process to at least want, and returns
// the soft limit now in force, which is less than want when the hard limit
// could not be raised. Children inherit it: a proxy needs two descriptors
// per proxied WebSocket.
func RaiseFileLimit(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("get open file limit: %w", err)
	}
	if lim.Cur >= want {
		return lim.Cur, nil
	}
	if lim.Max < want {
		raised := syscall.Rlimit{Cur: want, Max: want}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			return want, nil
		}
		// Not root: go as far as the hard limit.
	}
	lim.Cur = min(want, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("raise open file limit to %d: %w", lim.Cur, err)
	}
	return lim.Cur, nil
}
