package janusrun_test

import (
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/janustap/janustap/replayer/janus/janusrun"
)

// TestChildStop stops a child that ends on SIGTERM and one that ignores it
// (and is killed after the grace), each leading its own process group.
func TestChildStop(t *testing.T) {
	for _, tt := range []struct {
		name   string
		script string
		killed bool
	}{
		{"endsOnTERM", "exec sleep 60", false},
		{"ignoresTERM", "trap '' TERM; echo ready; while :; do sleep 0.05; done", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("/bin/sh", "-c", tt.script)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			ready := make(chan string, 1)
			c, err := janusrun.StartChild(cmd, true, func() {
				b := make([]byte, 6)
				n, _ := io.ReadFull(out, b)
				ready <- string(b[:n])
				_, _ = io.Copy(io.Discard, out)
			})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Kill()
			if tt.killed {
				if got := <-ready; got != "ready\n" { // the trap is set
					t.Fatalf("child wrote %q, want ready", got)
				}
			}
			killed, err := c.Stop(300 * time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if killed != tt.killed {
				t.Errorf("Stop killed = %v, want %v", killed, tt.killed)
			}
			if c.Running() {
				t.Error("child still running after Stop")
			}
			if killed, err := c.Stop(time.Second); killed || err != nil {
				t.Errorf("second Stop = %v, %v; want nothing done", killed, err)
			}
		})
	}
}

// TestChildRead runs read on the wait goroutine before Wait, so that it
// sees all the child wrote to a pipe.
func TestChildRead(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "echo one >&2; echo two >&2")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	c, err := janusrun.StartChild(cmd, false, func() { got, _ = io.ReadAll(stderr) })
	if err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	if want := "one\ntwo\n"; string(got) != want {
		t.Errorf("read %q, want %q", got, want)
	}
	if s := c.ExitState(); !strings.Contains(s, "exited") {
		t.Errorf("ExitState = %q, want exited", s)
	}
}
