package janusrun

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"time"
)

// Child is a process started with StartChild: Janus here, and the proxies,
// NATS servers and janustap processes of the bench and the fault suite.
// Its wait goroutine owns Cmd once it has started.
type Child struct {
	Cmd   *exec.Cmd
	group bool
	done  chan struct{}
	err   error // from Cmd.Wait; read only after done is closed
}

// StartChild starts cmd as a child that does not outlive this process. On
// Linux the kernel kills it (SIGKILL) when the thread that forked it exits
// (Pdeathsig): a test binary or bench that dies leaves nothing behind. So it
// is forked from a goroutine that keeps its thread, and then waits for it.
// With group, the child leads a process group of its own, and Signal and
// Stop reach whatever it starts. Where read is not nil, it runs on that
// goroutine once the child has started and before Cmd.Wait, which closes
// the pipes: a reader of cmd.StderrPipe or StdoutPipe belongs there.
func StartChild(cmd *exec.Cmd, group bool, read func()) (*Child, error) {
	cmd.SysProcAttr = childAttr(group)
	c := &Child{Cmd: cmd, group: group, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		if read != nil {
			read()
		}
		c.err = cmd.Wait()
		close(c.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("exec %s: %w", cmd.Path, err)
	}
	return c, nil
}

// Pid is the child's process id.
func (c *Child) Pid() int { return c.Cmd.Process.Pid }

// Done is closed once the child has exited and been reaped.
func (c *Child) Done() <-chan struct{} { return c.done }

// Running reports whether the child has not exited yet.
func (c *Child) Running() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// ExitState says how the child ended: Cmd.Wait's error, "exited", or
// "still running".
func (c *Child) ExitState() string {
	if c.Running() {
		return "still running"
	}
	if c.err != nil {
		return c.err.Error()
	}
	return "exited"
}

// Signal sends sig to the child, or to its process group if it leads one.
// A child already gone is no error.
func (c *Child) Signal(sig os.Signal) error {
	if err := signal(c.Cmd.Process, c.group, sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("send %v to pid %d: %w", sig, c.Pid(), err)
	}
	return nil
}

// Kill sends SIGKILL and waits until the child is gone.
func (c *Child) Kill() error {
	if !c.Running() {
		return nil
	}
	if err := c.Signal(os.Kill); err != nil {
		return err
	}
	<-c.done
	return nil
}

// Stop asks the child to end (SIGTERM, or an interrupt where there is no
// SIGTERM) and waits for it to exit; after grace it kills it and says so
// with killed. Stopping a stopped child does nothing.
func (c *Child) Stop(grace time.Duration) (killed bool, err error) {
	if !c.Running() {
		return false, nil
	}
	if err := c.Signal(terminate); err != nil {
		return false, err
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-c.done:
		return false, nil
	case <-timer.C:
	}
	return true, c.Kill()
}
