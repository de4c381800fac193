package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// ThisMachine describes the computer the bench runs on, from /proc.
func ThisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Model: "unknown CPU", Memory: "unknown", Kernel: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				if err == nil {
					m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				}
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// loadAvg returns the 1, 5 and 15 minute load averages, or "".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// Commit returns the short commit of the repository holding dir, with
// "+dirty" when its work tree has changes, or "unknown".
func Commit(dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", dir, "status", "--porcelain").Output(); err == nil && len(st) > 0 {
		c += "+dirty"
	}
	return c
}

// SaveMarkdown writes rep to dir/<date>-<commit>.md and returns the path.
func SaveMarkdown(rep *Report, dir string, m Machine, commit, command string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("save results: %w", err)
	}
	name := rep.Started.UTC().Format("2006-01-02") + "-" + strings.ReplaceAll(commit, "+", "-") + ".md"
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err == nil {
		// Another run today on the same commit: keep both.
		path = strings.TrimSuffix(path, ".md") + "-" + rep.Started.UTC().Format("150405") + ".md"
	}
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("save results: %w", err)
	}
	if err := rep.WriteMarkdown(f, m, commit, command); err != nil {
		f.Close()
		return "", fmt.Errorf("save results: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("save results: %w", err)
	}
	return path, nil
}
