package bench

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/janustap/janustap/replayer/janus/janustest"
)

func TestUsageOfThisProcess(t *testing.T) {
	// Burn some CPU so that utime moves past one tick.
	start := time.Now()
	for x := 0; time.Since(start) < 50*time.Millisecond; x++ {
		_ = x * x
	}
	u, err := usage([]int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if u.CPU <= 0 || u.RSS <= 0 || u.HWM < u.RSS {
		t.Errorf("usage of this process = %+v, want CPU > 0 and 0 < RSS ≤ HWM", u)
	}
	if _, err := usage([]int{1 << 30}); err == nil {
		t.Error("usage of a pid that does not exist succeeded")
	}
}

func TestProcessChildrenAndStop(t *testing.T) {
	dir := t.TempDir()
	p, err := startProcess("sh", dir, "/bin/sh", "-c", "sleep 60 & wait")
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	var kids []int
	janustest.WaitFor(t, 5*time.Second, func() error { // sh forks when it gets to it
		if kids = children(p.pid()); len(kids) == 0 {
			return fmt.Errorf("sh %d has no child yet", p.pid())
		}
		return nil
	})
	if len(kids) != 1 || slices.Contains(kids, p.pid()) {
		t.Fatalf("children of sh = %v, want its one sleep", kids)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	if !p.exited() {
		t.Error("process still running after stop")
	}
	if err := p.stop(); err != nil {
		t.Errorf("second stop: %v", err)
	}
}

func TestRaiseFileLimit(t *testing.T) {
	got, err := RaiseFileLimit(1024)
	if err != nil {
		t.Fatal(err)
	}
	if got < 1024 {
		t.Errorf("open file limit %d after raising it to 1024", got)
	}
}
