package recorder

import (
	"fmt"
	"runtime"
	"syscall"
)

// lowerThreadPriority locks the calling goroutine to its OS thread and
// gives that thread the nice value nice, so that the kernel runs the
// thread's work (SQLite's writes, made through cgo on the same thread)
// only when signaling has had its share. The goroutine must never unlock:
// when it ends, Go ends its thread with it, so no other goroutine runs at
// the lower priority.
func lowerThreadPriority(nice int) error {
	runtime.LockOSThread()
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice); err != nil {
		return fmt.Errorf("set nice %d on the recorder's thread: %w", nice, err)
	}
	return nil
}
